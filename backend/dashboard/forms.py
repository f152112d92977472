"""The dashboard's forms; every one carries Flask-WTF's CSRF token."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, MultipleFileField
from wtforms import BooleanField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length

from backend.dashboard.vocabulary import ROLES as ROLE_NAMES
from backend.models import ROLES
from backend.users.accounts import MIN_PASSWORD

ROLE_CHOICES = [SelectChoice(role, ROLE_NAMES[role]) for role in ROLES]


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])


class ActionForm(FlaskForm):
    """A button that changes something (logout): only the CSRF token."""


class ConfirmForm(FlaskForm):
    """An action that is hard to take back (activate, roll back, re-open): it needs a ticked
    box, so it is confirmed with or without JavaScript."""

    confirm = BooleanField(
        _l("Yes, I am sure"), validators=[DataRequired(_l("Tick the box to confirm."))]
    )


class ReviewForm(FlaskForm):
    label = SelectField(_l("Reviewed class"), validators=[DataRequired()])
    note = TextAreaField(_l("Note (optional)"), validators=[Length(max=2000)])


# New passwords: InputRequired, not DataRequired (which calls a blank one "missing"), so
# backend.users.accounts.check_password_strength gives the same answer as the API and CLI.
NEW_PASSWORD = [InputRequired(), Length(min=MIN_PASSWORD, max=1024)]


class CreateUserForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(min=3, max=64)])
    password = PasswordField(_l("Password"), validators=NEW_PASSWORD)
    # The least privilege unless the admin chooses more.
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default="viewer")


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)


class ActiveForm(FlaskForm):
    active = BooleanField(_l("Account enabled"))


class PasswordResetForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=NEW_PASSWORD)


class ModelUploadForm(FlaskForm):
    release_zip = FileField(_l("Release as a .zip (model.json + the .tflite file)"))
    release_folder = MultipleFileField(_l("or the release folder"))
    model_file = FileField(_l("or the .tflite file"))
    meta_file = FileField(_l("with its model.json"))
    activate = BooleanField(_l("Activate after publishing"))


def first_error(form: FlaskForm) -> str:
    for name, errors in form.errors.items():
        field = getattr(form, name, None)
        label = field.label.text if field is not None else name
        return _("%(field)s: %(error)s", field=label, error=errors[0])
    return _("The form is incomplete.")
