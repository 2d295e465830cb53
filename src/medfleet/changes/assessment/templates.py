"""The assessment memo's Jinja2 template, kept as a Python string so no package data is needed.

Rendered only through ``memo.render_memo_html``, whose environment escapes every value. The
change key reaches the PDF page header through CSS ``string-set`` on an element, never by
writing data into the style sheet.
"""

from __future__ import annotations

MEMO_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Regulatory assessment {{ change.key }}</title>
<style>
@page {
  size: A4;
  margin: 22mm 16mm 20mm 16mm;
  @top-left { content: string(changekey); font-size: 9pt; color: #444; }
  @top-right { content: "Regulatory assessment memo"; font-size: 9pt; color: #444; }
  @bottom-left { content: "medfleet"; font-size: 8pt; color: #777; }
  @bottom-right { content: "Page " counter(page) " of " counter(pages); font-size: 9pt; }
}
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 9.5pt;
       color: #111; line-height: 1.35; }
h1 { font-size: 16pt; margin: 0 0 6pt 0; }
h2 { font-size: 12pt; margin: 14pt 0 4pt 0; border-bottom: 1px solid #999; }
h3 { font-size: 10.5pt; margin: 8pt 0 3pt 0; }
.changekey { string-set: changekey content(); }
table { border-collapse: collapse; width: 100%; margin: 3pt 0 6pt 0; }
th, td { border: 1px solid #aaa; padding: 2.5pt 4pt; text-align: left; vertical-align: top; }
th { background: #eee; }
thead { display: table-header-group; }
tr { page-break-inside: avoid; }
table.meta th { width: 28%; }
.outcome { font-weight: bold; }
.muted { color: #555; }
.signatures li { margin-bottom: 3pt; }
table.path { table-layout: fixed; font-size: 8.5pt; }
table.path td { overflow-wrap: break-word; }
</style>
</head>
<body>
<h1>Regulatory assessment: <span class="changekey">{{ change.key }}</span></h1>
<table class="meta">
<tr><th>Title</th><td>{{ change.title }}</td></tr>
<tr><th>Change class</th><td>{{ change.change_class }}</td></tr>
<tr><th>IEC 62304 safety class</th><td>{{ change.safety_class }}</td></tr>
<tr><th>Device model</th><td>{{ change.device_model }}</td></tr>
<tr><th>Documented since clearance</th>
<td>{{ documented | join(", ") if documented else "none" }}</td></tr>
{% if generated_at %}<tr><th>Generated</th><td>{{ generated_at }}</td></tr>{% endif %}
</table>

<h2>Outcomes</h2>
<table>
<thead><tr><th>Framework</th><th>Outcome</th></tr></thead>
{% for row in outcome_rows %}
<tr><td>{{ row.framework }}</td><td class="outcome">{{ row.outcome }}</td></tr>
{% endfor %}
</table>

<h2>Facts from the records</h2>
<h3>Hazardous situations (risk-file delta; severity before mitigation)</h3>
{% if change.situations %}
<table>
<thead><tr><th>Key</th><th>Action</th><th>Severity</th><th>Probability</th>
<th>Significant harm</th><th>Effectively mitigated</th></tr></thead>
{% for s in change.situations %}
<tr><td>{{ s.key }}</td><td>{{ s.action }}</td>
<td>{{ s.severity_before | level }} &rarr; {{ s.severity_after | level }}</td>
<td>{{ s.probability_before | level }} &rarr; {{ s.probability_after | level }}</td>
<td>{{ s.significant_harm | yesno }}</td>
<td>{{ s.mitigated_before | yesno }} &rarr; {{ s.mitigated_after | yesno }}</td></tr>
{% endfor %}
</table>
{% else %}<p class="muted">(none)</p>{% endif %}
<h3>Risk control measures</h3>
{% if change.controls %}
<table>
<thead><tr><th>Key</th><th>Action</th><th>Situations</th><th>Significant harm</th>
<th>Redundant</th></tr></thead>
{% for c in change.controls %}
<tr><td>{{ c.key }}</td><td>{{ c.action }}</td><td>{{ c.situations | join(", ") }}</td>
<td>{{ c.significant_harm | yesno }}</td><td>{{ c.redundant | yesno }}</td></tr>
{% endfor %}
</table>
{% else %}<p class="muted">(none)</p>{% endif %}
<h3>Requirement changes</h3>
{% if change.requirements %}
<table>
<thead><tr><th>Key</th><th>Action</th><th>Kind</th></tr></thead>
{% for r in change.requirements %}
<tr><td>{{ r.key }}</td><td>{{ r.action }}</td><td>{{ r.kind }}</td></tr>
{% endfor %}
</table>
{% else %}<p class="muted">(none)</p>{% endif %}

{% for section in sections %}
<h2>{{ section.title }}</h2>
<p>Outcome: <span class="outcome">{{ section.outcome }}</span></p>
{% for reason in section.reasons %}<p class="muted">{{ reason }}</p>{% endfor %}
{% if section.criteria %}
<table>
<thead><tr><th>Acceptance criterion</th><th>Measured</th><th>Met</th></tr></thead>
{% for c in section.criteria %}
<tr><td>{{ c.criterion }}</td>
<td>{{ "not evaluated" if c.value is none else c.value }}</td>
<td>{{ c.met | yesno }}</td></tr>
{% endfor %}
</table>
{% endif %}
{% for path in section.paths %}
<h3>{{ path.title }}</h3>
<table class="path">
<colgroup><col style="width: 4%"><col style="width: 31%"><col style="width: 6%">
<col style="width: 10%"><col style="width: 29%"><col style="width: 11%">
<col style="width: 9%"></colgroup>
<thead><tr><th>#</th><th>Question</th><th>Answer</th><th>Source</th>
<th>Reason / justification</th><th>Assessor</th><th>Leads to</th></tr></thead>
{% for a in path.answers %}
<tr><td>{{ loop.index }}</td>
<td><strong>{{ a.question_id }}</strong> {{ a.question }}</td>
<td>{{ a.answer }}</td><td>{{ a.source }}</td>
<td>{{ a.reason }}{% if a.evidence %}<br><span class="muted">Evidence:
{{ a.evidence | join(", ") }}</span>{% endif %}</td>
<td>{% if a.assessor %}{{ a.assessor }}<br><span class="muted">{{ a.answered_at }}</span>
{% else %}&mdash;{% endif %}</td>
<td>{{ a.leads_to }}</td></tr>
{% endfor %}
</table>
{% endfor %}
{% endfor %}

<h2>Electronic signatures</h2>
<div class="signatures">
{% if signature_lines %}
<ul>{% for line in signature_lines %}<li>{{ line }}</li>{% endfor %}</ul>
{% else %}
<p>(not signed)</p>
{% endif %}
</div>
</body>
</html>
"""
