"""The trace matrix page template (Jinja2, rendered with autoescaping by ``trace.matrix``).

Kept in a module rather than a data file so that it ships wherever the code does.
"""

from __future__ import annotations

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Trace matrix - build {{ matrix.build_id }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #bbb; padding: 4px 8px; vertical-align: top; text-align: left; }
th { background: #eee; }
tr.gap td { background: #fde2e2; }
.passed { color: #176f2c; font-weight: bold; }
.failed, .error, .not-run { color: #b00020; font-weight: bold; }
.skipped { color: #8a6d00; }
ul.gaps li { color: #b00020; }
.summary { font-size: 1.1em; }
</style>
</head>
<body>
<h1>Trace matrix{% if organization %} - {{ organization }}{% endif %}</h1>
<p>Build <code>{{ matrix.build_id }}</code>, generated {{ generated }}.</p>
<p class="summary">{{ matrix.rows | length }} requirement(s),
{% if matrix.gaps %}<strong>{{ matrix.gaps | length }} gap(s)</strong>{% else %}no gaps{% endif %}.
</p>
<table>
<thead><tr><th>Requirement</th><th>Version</th><th>Kind</th><th>Title</th>
<th>Software item</th><th>Risk controls</th><th>Tests (level: result)</th><th>Gaps</th></tr></thead>
<tbody>
{% for row in matrix.rows %}
<tr{% if row.gaps %} class="gap"{% endif %}>
<td>{{ row.requirement }}</td><td>{{ row.version }}</td><td>{{ row.kind }}</td>
<td>{{ row.title }}</td><td>{{ row.software_item }}</td>
<td>{{ row.controls | join(", ") }}</td>
<td>{% for test in row.tests %}<div><code>{{ test.key }}</code> ({{ test.level or "level?" }}):
<span class="{{ test.result or 'not-run' }}">{{ test.result or "not run" }}</span></div>
{% else %}<em>no linked test</em>{% endfor %}</td>
<td>{% for gap in row.gaps %}<div>{{ gap.message }}</div>{% endfor %}</td>
</tr>
{% endfor %}
</tbody>
</table>
<h2>All gaps</h2>
{% if matrix.gaps %}
<ul class="gaps">
{% for gap in matrix.gaps %}<li>[{{ gap.kind.value }}] {{ gap.message }}</li>
{% endfor %}
</ul>
{% else %}
<p>None: every requirement and risk control is verified on this build.</p>
{% endif %}
</body>
</html>
"""
