import string

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


class CharacterClassValidator:
    """Require letters and digits and at least three character classes (lower, upper, digit, symbol)."""

    def validate(self, password, user=None):
        classes = [
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c in string.digits for c in password),
            any(not c.isalnum() for c in password),
        ]
        has_letter = classes[0] or classes[1]
        if not (has_letter and classes[2] and sum(classes) >= 3):
            raise ValidationError(
                _("密码须同时包含字母和数字，并至少包含小写字母、大写字母、数字、符号中的三类。"),
                code="password_classes",
            )

    def get_help_text(self):
        return _("密码须同时包含字母和数字，并至少包含小写字母、大写字母、数字、符号中的三类。")
