"""CloudFormation's parameters, conditions and intrinsic functions, evaluated locally.

One evaluator for everything that reads template.yaml without CloudFormation: the moto deployment
(`retrain_trigger_local.deploy`) and the tests' resources built from the template (`tests/support/resources.py`).
Parameter values are text, as CloudFormation compares them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from retrain_trigger_local.runtime import ACCOUNT_ID, REGION

_CONDITION_FUNCTIONS = frozenset({"Condition", "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"})


class UnresolvableError(ValueError):
    """An intrinsic function that cannot be evaluated (yet) against what exists."""


class ParameterError(ValueError):
    """A parameter value CloudFormation would reject (AllowedValues, AllowedPattern, bounds, Rules)."""


def effective_parameters(template: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, str]:
    """Each template parameter's value (the override, else the default), checked as CloudFormation checks it.

    moto accepts any value; checking here keeps a local run from succeeding where a deployment would fail.
    """
    declared: Mapping[str, Any] = template.get("Parameters", {})
    unknown = set(overrides) - set(declared)
    if unknown:
        raise ParameterError(f"unknown template parameters: {', '.join(sorted(unknown))}")
    values: dict[str, str] = {}
    for name, spec in declared.items():
        if name in overrides:
            values[name] = str(overrides[name])
        elif "Default" in spec:
            values[name] = str(spec["Default"])
        else:
            raise ParameterError(f"parameter {name} has no default and no value was given")
        _check_parameter(name, spec, values[name])
    _check_rules(template, values)
    return values


def _check_parameter(name: str, spec: Mapping[str, Any], value: str) -> None:
    def reject(reason: str) -> ParameterError:
        return ParameterError(f"parameter {name}={value!r}: {spec.get('ConstraintDescription', reason)}")

    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(v) for v in allowed]:
        raise reject(f"must be one of {allowed}")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and not re.fullmatch(str(pattern), value):
        raise reject(f"must match {pattern}")
    if not spec.get("MinLength", 0) <= len(value) <= spec.get("MaxLength", len(value)):
        raise reject("has the wrong length")
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            raise reject("must be a number") from None
        if not spec.get("MinValue", number) <= number <= spec.get("MaxValue", number):
            raise reject(f"must be within [{spec.get('MinValue')}, {spec.get('MaxValue')}]")


def _check_rules(template: Mapping[str, Any], values: Mapping[str, str]) -> None:
    def no_conditions(name: str) -> bool:
        raise UnresolvableError(f"a rule cannot refer to condition {name}")

    for rule_name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not _evaluate(rule["RuleCondition"], values, no_conditions):
            continue
        for assertion in rule.get("Assertions", []):
            if not _evaluate(assertion["Assert"], values, no_conditions):
                raise ParameterError(f"rule {rule_name}: {assertion.get('AssertDescription', 'assertion failed')}")


def _evaluate(node: Any, values: Mapping[str, str], condition: Callable[[str], bool]) -> Any:
    """A condition or rule expression (Fn::Equals/Not/And/Or, Condition, Ref), values compared as text."""
    if isinstance(node, dict) and len(node) == 1:
        ((key, arg),) = node.items()
        operators: dict[str, Callable[[], Any]] = {
            "Ref": lambda: values[arg] if arg in values else pseudo_parameter(arg),
            "Condition": lambda: condition(arg),
            "Fn::Equals": lambda: (
                str(_evaluate(arg[0], values, condition)) == str(_evaluate(arg[1], values, condition))
            ),
            "Fn::Not": lambda: not _evaluate(arg[0], values, condition),
            "Fn::And": lambda: all(_evaluate(item, values, condition) for item in arg),
            "Fn::Or": lambda: any(_evaluate(item, values, condition) for item in arg),
        }
        if key in operators:
            return operators[key]()
    if isinstance(node, (str, int, float, bool)):
        return node
    raise UnresolvableError(f"cannot evaluate the expression {node!r}")


def evaluate_conditions(template: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, bool]:
    """The template's Conditions for these parameter values."""
    conditions: Mapping[str, Any] = template.get("Conditions", {})
    results: dict[str, bool] = {}

    def condition(name: str) -> bool:
        if name not in results:
            results[name] = bool(_evaluate(conditions[name], values, condition))
        return results[name]

    for name in conditions:
        condition(name)
    return results


def pseudo_parameter(name: str, stack_name: str = "", region: str = REGION) -> str:
    known = {
        "AWS::Region": region,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackName": stack_name,
    }
    if name not in known:
        raise UnresolvableError(f"unknown reference {name}")
    return known[name]


def is_no_value(node: Any) -> bool:
    return isinstance(node, dict) and node.get("Ref") == "AWS::NoValue" and len(node) == 1


def references(node: Any) -> Iterator[str]:
    """The logical ids and parameter names `node` refers to with Ref, Fn::GetAtt or Fn::Sub (not DependsOn)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                yield value
            elif key == "Fn::GetAtt":
                yield value[0] if isinstance(value, list) else str(value).split(".", 1)[0]
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                for part in str(text).split("${")[1:]:
                    name = part.split("}", 1)[0]
                    if not name.startswith("!"):
                        yield name.split(".", 1)[0]
                if not isinstance(value, str):
                    yield from references(value[1])
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


@dataclass
class Resolver:
    """Evaluates Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::If and the condition functions against the parameter
    values, the conditions and what exists so far (`physical_ids`, `attributes`); Ref to AWS::NoValue drops the item.

    `live_attribute` answers an attribute nobody recorded: here it cannot, a deployment looks it up.
    """

    stack_name: str
    resources: Mapping[str, Any]
    values: Mapping[str, str]
    conditions: Mapping[str, bool]
    region: str = REGION
    physical_ids: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.resolve(item) for item in node if not is_no_value(item)]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
                return self.get_att(logical_id, attribute)
            if key == "Fn::Sub":
                return self.sub(arg)
            if key == "Fn::Join":
                return str(arg[0]).join(str(part) for part in self.resolve(arg[1]))
            if key == "Fn::If":
                return self.resolve(arg[1] if self.conditions[arg[0]] else arg[2])
            if key in _CONDITION_FUNCTIONS:
                return _evaluate(node, self.values, self.conditions.__getitem__)
            if key.startswith("Fn::"):
                raise UnresolvableError(f"{key} is not supported here")
        return {key: self.resolve(value) for key, value in node.items() if not is_no_value(value)}

    def ref(self, name: str) -> str:
        if name in self.values:
            return self.values[name]
        if name in self.physical_ids:
            return self.physical_ids[name]
        if name in self.resources:
            raise UnresolvableError(f"{name} does not exist yet")
        return pseudo_parameter(name, self.stack_name, self.region)

    def sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        local = {name: str(self.resolve(value)) for name, value in variables.items()}
        pieces, rest = [], str(text)
        while "${" in rest:
            before, _, after = rest.partition("${")
            name, _, rest = after.partition("}")
            if name.startswith("!"):  # ${!Literal} is the escape for a literal ${Literal}
                value = "${" + name[1:] + "}"
            elif name in local:
                value = local[name]
            elif "." in name:
                value = self.get_att(*name.split(".", 1))
            else:
                value = self.ref(name)
            pieces.append(before + value)
        return "".join([*pieces, rest])

    def get_att(self, logical_id: str, attribute: str) -> str:
        known = self.attributes.get(logical_id, {})
        if attribute in known:
            return known[attribute]
        if logical_id not in self.physical_ids:
            raise UnresolvableError(f"{logical_id}.{attribute}: {logical_id} does not exist yet")
        value = self.live_attribute(self.resources[logical_id]["Type"], self.physical_ids[logical_id], attribute)
        self.attributes.setdefault(logical_id, {})[attribute] = value
        return value

    def live_attribute(self, resource_type: str, physical_id: str, attribute: str) -> str:
        raise UnresolvableError(f"{attribute} of a {resource_type} is not known here")


def inline_references(node: Any, resolver: Resolver, logical_ids: set[str]) -> Any:
    """`node` with every Ref/GetAtt/Sub reference to `logical_ids` replaced by its resolved value."""
    if isinstance(node, list):
        return [inline_references(item, resolver, logical_ids) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, arg),) = node.items()
        if key in {"Ref", "Fn::GetAtt"} and set(references(node)) & logical_ids:
            return resolver.resolve(node)
        if key == "Fn::Sub" and set(references(node)) & logical_ids:
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            for logical_id in logical_ids:
                for attribute in [None, *resolver.attributes.get(logical_id, {})]:
                    token = logical_id if attribute is None else f"{logical_id}.{attribute}"
                    if "${" + token + "}" in text:
                        value = (
                            resolver.ref(logical_id) if attribute is None else resolver.get_att(logical_id, attribute)
                        )
                        text = text.replace("${" + token + "}", value)
            return {"Fn::Sub": [text, inline_references(variables, resolver, logical_ids)]}
    return {key: inline_references(value, resolver, logical_ids) for key, value in node.items()}
