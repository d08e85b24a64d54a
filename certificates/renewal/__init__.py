"""Automatic renewal of stored KSeF certificates (issue #17).

Before a stored authentication or offline certificate whose subject is a NIP ends, the
portal logs in with the current authentication certificate, asks KSeF for a successor
(`/certificates/enrollments`), stores it encrypted as the slot's next credential and
switches over at its validFrom. Personal (PESEL) certificates and KSeF tokens are never
renewed: the Ministry forbids handing a personal certificate to anyone, and a token
session cannot request certificates (25001/25002).

Modules: `failures` (the stored codes and their Polish messages), `selectors` (what is due,
the state the screens show), `services` (the renewal itself, its claim, switch-over and
alerts), `tasks` (Celery: the daily run, one renewal, retries), views/forms/urls (the
office setting, the client's choice, "Odnów teraz").
"""
