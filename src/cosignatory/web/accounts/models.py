"""Who may act on the site, beyond reading it.

Roles are Django groups (see :mod:`cosignatory.web.accounts.roles`). A signatory's
account is tied to the representative it acts as; which parties that lets it sign for
comes from the representative's current mandates in the register, never from the
account.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from cosignatory.web.register.models import Representative


class RepresentativeAccount(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="representative_account"
    )
    representative = models.ForeignKey(Representative, on_delete=models.PROTECT)
