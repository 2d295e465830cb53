"""Regulatory assessment as pure decision functions.

FDA's 510(k) software flowchart, EU MDCG 2020-3 chart C and predetermined change control plans.
"""
