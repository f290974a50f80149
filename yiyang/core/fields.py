from django.db import models

from . import pii


class EncryptedTextField(models.TextField):
    """Stores a string encrypted with the deployment's Fernet keys; Python code sees the plain text.

    The column can't be searched: pair it with a keyed-hash column (see `pii.lookup_hash`).
    """

    description = "Encrypted text"

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return pii.decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return pii.encrypt(value)

    def get_lookup(self, lookup_name):
        # Encrypted values are randomised: anything but isnull would silently match nothing.
        if lookup_name != "isnull":
            raise TypeError(f"EncryptedTextField does not support the '{lookup_name}' lookup")
        return super().get_lookup(lookup_name)
