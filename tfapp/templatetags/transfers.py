"""Template filters for transfer pages."""
from django import template

from .. import engines, regions

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


@register.filter
def region_legend(transfer):
    """What each painted region of ``transfer`` got, region 0 first: ``{"value", "number", "label"}`` each."""
    styles = list(transfer.styles.all())
    legend = []
    for value, entry in enumerate(filter(None, transfer.region_styles.split(","))):
        if entry == regions.KEEP:
            label = "Keeps the photo"
        else:
            style = styles[int(entry) - 1] if entry.isdigit() and 0 < int(entry) <= len(styles) else None
            label = f"Style {entry}" + (f": {style.preset.name if style.preset else 'your image'}" if style else "")
        legend.append({"value": value, "number": value + 1, "label": label})
    return legend
