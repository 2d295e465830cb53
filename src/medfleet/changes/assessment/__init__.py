"""Regulatory assessment as pure decision functions.

FDA's 510(k) software flowchart, EU MDCG 2020-3 chart C and predetermined change control plans.
No I/O and no database: ``facts`` (what the records say), ``questions`` (catalogue, assessor
answers), ``flowchart`` (the walk), ``fda_510k``, ``mdcg``, ``pccp``, ``decide`` (``assess``,
``open_questions``) and ``memo`` (HTML and PDF). Import the modules; nothing is re-exported here
so that importing the package stays cheap.
"""
