from __future__ import annotations

from certificates.models import Credential
from tests.certificates.conftest import upload_url


def test_an_accountant_uploads_the_client_certificate_and_sees_its_metadata(
    login, accountant, client_company, client_files
):
    browser = login(accountant)
    response = browser.post(upload_url(client_company.pk), client_files.pair(), follow=True)
    assert response.status_code == 200
    credential = Credential.objects.get()
    assert credential.owner_identifier == client_company.nip
    assert credential.serial_number in response.content.decode()
