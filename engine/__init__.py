"""Hazard Engine (重大事故隐患判定引擎): decides major accident hazards from inspection checklists.

Data flow: YAML ruleset → ``ruleset_loader`` → ``model.Ruleset`` → ``compiler`` (durable_rules JSON)
→ ``backend_durable`` → ``evaluator`` (criterion outcomes) → ``determination.Determination`` → ``report``.
"""

__version__ = "0.1.0"
