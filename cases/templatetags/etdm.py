from django import template

register = template.Library()


@register.filter
def get_item(mapping: dict, key: str):
    """`{{ descriptions|get_item:code }}`: look a key up in a dict."""
    return mapping.get(key, "")
