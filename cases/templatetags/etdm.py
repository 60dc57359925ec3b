from django import template
from django.forms import BoundField
from django.utils.html import format_html

from advice.engine.text import CODE_DESCRIPTIONS
from cases import access

register = template.Library()


@register.filter
def get_item(mapping: dict, key: str):
    """`{{ descriptions|get_item:code }}`: look a key up in a dict."""
    return mapping.get(key, "")


@register.filter
def describe(code: str) -> str:
    """The clinical meaning of an engine code (`missed_dose` → "drawn more than …")."""
    return CODE_DESCRIPTIONS.get(code, code.replace("_", " "))


@register.filter
def humanize_code(code: str) -> str:
    return code.replace("_", " ")


@register.filter
def is_optional(field: BoundField) -> bool:
    """Say "(optional)" only where leaving the field empty is always fine; some fields are
    required or not depending on another (`conditionally_required` on the form)."""
    return not field.field.required and field.name not in getattr(
        field.form, "conditionally_required", ()
    )


def _described_by(field: BoundField) -> str:
    ids = []
    if field.errors:
        ids.append(f"{field.auto_id}-error")
    if field.help_text:
        ids.append(f"{field.auto_id}-help")
    return " ".join(ids)


@register.simple_tag
def field_widget(field: BoundField, **attrs):
    """The field's input, linked to its error and help text for screen readers (the error's
    element id is `<input id>-error`, next to the field)."""
    described_by = _described_by(field)
    if described_by and not field.use_fieldset:
        attrs["aria-describedby"] = described_by
    if field.errors:
        attrs["aria-invalid"] = "true"
    return field.as_widget(attrs=attrs)


@register.simple_tag
def fieldset_describedby(field: BoundField):
    """`aria-describedby` for a radio or checkbox group, which is described as a whole."""
    described_by = _described_by(field)
    return format_html(' aria-describedby="{}"', described_by) if described_by else ""


@register.simple_tag(takes_context=True)
def user_roles(context) -> dict[str, object]:
    """The viewing user's role names, and whether any is clinical (for the main menu)."""
    user = context.get("user")
    if user is None or not user.is_authenticated:
        return {"names": [], "clinical": False}
    return {"names": sorted(access.user_roles(user)), "clinical": access.is_clinical_user(user)}
