"""Template filters for transfer pages."""
from django import template

from .. import engines

register = template.Library()


@register.filter
def duration(seconds):
    """Seconds as people read them: "—" when unknown, "5 ms" under a second, "1.24 s" from one up."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


@register.filter
def method_label(transfer):
    """The transfer's method as every page names it: the method's label, then its quality ("Gatys · Draft")."""
    return engines.label(transfer.method, transfer.quality)
