"""The clinical engine: pure Python, no Django, no database.

Units, the Ctrough estimate (`pk`), the dose split (`dosing`), the advice table (`rules`) and
its wording (`text`), adverse-event advice (`toxicity`), the drug catalogue and CTCAE terms,
and the reading of a case from JSON (`case_input`). Every caller supplies every input, so each
rule is tested without a database (docs/clinical-rules.md).
"""
