
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('clients', '0005_office_grants_snapshot'),
    ]

    # The grant models moved to the `grants` app with their tables: this drops them from the
    # `clients` app's state only. The tables and every row stay (grants 0001 takes them over).
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='officegrantssnapshot',
                    name='office',
                ),
                migrations.RemoveField(
                    model_name='permissiongrant',
                    name='client',
                ),
                migrations.RemoveField(
                    model_name='permissiongrant',
                    name='grantee_membership',
                ),
                migrations.RemoveField(
                    model_name='permissiongrant',
                    name='requested_by',
                ),
                migrations.RemoveField(
                    model_name='staffdeparturejob',
                    name='membership',
                ),
                migrations.RemoveField(
                    model_name='staffdeparturejob',
                    name='office',
                ),
                migrations.RemoveField(
                    model_name='staffdeparturejob',
                    name='requested_by',
                ),
                migrations.DeleteModel(
                    name='GrantsCheck',
                ),
                migrations.DeleteModel(
                    name='OfficeGrantsSnapshot',
                ),
                migrations.DeleteModel(
                    name='PermissionGrant',
                ),
                migrations.DeleteModel(
                    name='StaffDepartureJob',
                ),
            ],
            database_operations=[],
        ),
    ]
