"""The action plan as data (issue 6): measures and targets, departmental progress reports and
their review, the standards and brand registries that compute targets, the annual assessment
with supervision notices, the plan dashboard and the public release of progress
(``docs/plan.md``)."""
