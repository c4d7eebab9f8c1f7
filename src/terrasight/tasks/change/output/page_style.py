"""The look shared by the HTML pages of change and series results: CSS, table sorting, areas.

:mod:`terrasight.tasks.products.report` (``report.html`` of a change result) and
:mod:`terrasight.tasks.series.report` (``series.html``) both use it, so it lives
below both.
"""

from __future__ import annotations

__all__ = ["CSS", "SORT_JS", "format_area"]

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;
 background:#f4f5f7;color:#1d2330}
header{background:#1d2a3a;color:#fff;padding:16px 24px}
header h1{margin:0 0 4px;font-size:22px}
header .sub{opacity:.8;font-size:13px}
main{padding:16px 24px;max-width:1600px}
section{background:#fff;border-radius:6px;padding:12px 16px;margin:0 0 16px;
 box-shadow:0 1px 2px rgba(0,0,0,.08)}
h2{font-size:17px;margin:4px 0 10px}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:10px}
.fact{background:#f4f5f7;border-radius:4px;padding:8px 10px}
.fact .k{font-size:12px;color:#5a6270}.fact .v{font-size:18px;font-weight:600}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;font-size:13px;margin:0}
dl.meta dt{color:#5a6270}dl.meta dd{margin:0;word-break:break-all}
.warn{background:#fff4d6;border:1px solid #e0b400;border-radius:6px;padding:8px 14px;
 margin:0 0 16px}
.warn h2{color:#7a5a00}.warn li{margin:2px 0}
.unreliable{background:#fde2e1;border:2px solid #c0392b;border-radius:6px;padding:8px 14px;
 margin:0 0 16px}.unreliable h2{color:#8e1b10}
.pics{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:14px}
figure{margin:0}figure img{width:100%;height:auto;image-rendering:pixelated;border:1px solid #ccd}
figcaption{font-size:13px;color:#3a4250;margin-top:4px}
.bar{height:12px;border:1px solid #889;margin-top:4px}
.ticks{display:flex;justify-content:space-between;font-size:11px;color:#5a6270}
.swatch{display:inline-block;width:11px;height:11px;vertical-align:middle;border:1px solid #556}
table{border-collapse:collapse;font-size:13px;width:100%}
th,td{padding:4px 8px;border-bottom:1px solid #e3e5ea;text-align:right;white-space:nowrap}
th{background:#eef0f4;cursor:pointer;user-select:none;position:sticky;top:0}
th.asc::after{content:" \\25B2"}th.desc::after{content:" \\25BC"}
td.t,th.t{text-align:left}.note{font-size:13px;color:#5a6270}
pre{font-size:12px;white-space:pre-wrap;word-break:break-all}
"""

SORT_JS = """
document.querySelectorAll('table.sortable th').forEach(function(th, col){
 th.addEventListener('click', function(){
  var table = th.closest('table'), body = table.tBodies[0];
  var asc = !th.classList.contains('asc');
  table.querySelectorAll('th').forEach(function(h){h.classList.remove('asc','desc');});
  th.classList.add(asc ? 'asc' : 'desc');
  var rows = Array.prototype.slice.call(body.rows);
  var num = th.dataset.type === 'num';
  rows.sort(function(a, b){
   var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
   var c = num ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
   return asc ? c : -c;
  });
  rows.forEach(function(r){body.appendChild(r);});
 });
});
"""


def format_area(value: float, unit: str) -> str:
    """An area for people: ``"2,400 m² (0.24 ha)"``, km² when large, pixels without a CRS.

    Example:
        >>> format_area(2400, "m2"), format_area(3.5e6, "m2"), format_area(42, "px")
        ('2,400 m² (0.24 ha)', '3.50 km² (350.0 ha)', '42 px')
    """
    if unit != "m2":
        return f"{value:,.0f} {unit}"
    if value >= 1e6:
        return f"{value / 1e6:,.2f} km² ({value / 1e4:,.1f} ha)"
    return f"{value:,.0f} m² ({value / 1e4:,.2f} ha)"
