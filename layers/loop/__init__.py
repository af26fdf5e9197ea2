"""The closed loop: rules (whistles), alerts, cases, routing, SLA and escalation, audit, notify."""
