"""Template filters for transfer pages."""
from django import template

register = template.Library()


@register.filter
def duration(seconds):
    """Seconds as people read them: "—" when unknown, "5 ms" under a second, "1.24 s" from one up."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"
