"""The policy engine: YAML rules validated at load, and a pure ``decide()``."""

from policies.engine import decide, explain
from policies.errors import PolicyError, PolicyIssue
from policies.holder import PolicyHolder
from policies.loader import DEFAULT_POLICY_PATH, load_policy
from policies.model import (
    Action,
    ContactFact,
    CustomerFacts,
    Decision,
    DecisionInput,
    HistoryFacts,
    OrderFacts,
    Signals,
)
from policies.policy import Policy, Rule
from policies.replay import ReplayReport, replay
from policies.serialize import input_from_json, input_to_json

__all__ = [
    "DEFAULT_POLICY_PATH",
    "Action",
    "ContactFact",
    "CustomerFacts",
    "Decision",
    "DecisionInput",
    "HistoryFacts",
    "OrderFacts",
    "Policy",
    "PolicyError",
    "PolicyHolder",
    "PolicyIssue",
    "ReplayReport",
    "Rule",
    "Signals",
    "decide",
    "explain",
    "input_from_json",
    "input_to_json",
    "load_policy",
    "replay",
]
