"""Resolving a script step's targets to points: DOM targets through the env, descriptions by the model
(with the action cache in front of it), the step's own coordinate as the last resort."""

from __future__ import annotations

from collections.abc import Callable

from guiagent.policies.action_cache import ActionCache, CacheEntry, Screen, Signature, page_of
from guiagent.policies.base import PolicyError, PolicyUnavailable
from guiagent.policies.grounding import Grounder, GroundingError
from guiagent.tools import Action, Observation
from guiagent.tools.targets import ResolvedTarget, Target, TargetError, TargetScreen


class Targeting:
    """Turns targets into points for one env; ``keep`` stores what the model grounded once the step held."""

    def __init__(self, grounder: Callable[[], Grounder], cache: ActionCache | None = None) -> None:
        self._make_grounder = grounder
        self._grounder: Grounder | None = None
        self.cache = cache

    def resolve_action(
        self, action: Action, targets: dict[str, Target], observation: Observation,
        screen: TargetScreen | None, regrounding: bool = False,
    ) -> tuple[Action, list[ResolvedTarget], str | None]:
        """The action with its target fields set, what each target resolved to, and the error if one did not.

        ``regrounding``: an ``expect`` failed after cached points; ask the model again (on this fresh screen).
        """
        shot = Screen(observation, prefetch=any(t.describe is not None for t in targets.values()))
        points, records = {}, []
        for field, target in targets.items():
            record = self._resolve(field, target, shot, screen, regrounding)
            records.append(record)
            if record.error is not None:
                return action, records, f"{action.action}: {record.error}"
            points[field] = record.point
        return action.model_copy(update=points), records, None

    def keep(self, records: list[ResolvedTarget]) -> None:
        """The step's checks held: cache the points the model grounded."""
        if self.cache is None:
            return
        model = self._grounder.config.model if self._grounder else None
        for r in records:
            if r.source == "model" and r.signature is not None and r.point is not None:
                self.cache.store(CacheEntry(describe=r.target["describe"], point=r.point,
                                            signature=Signature.model_validate(r.signature), model=model))

    # -- one target --------------------------------------------------------------------------

    def _resolve(
        self, field: str, target: Target, shot: Screen, screen: TargetScreen | None, regrounding: bool
    ) -> ResolvedTarget:
        record = ResolvedTarget(field=field, target=target.written())
        problems: list[str] = []
        if target.dom:
            if screen is None:
                problems.append(f"{target.label()} is a DOM target, for the browser env: use describe here")
            else:
                try:
                    found = screen.locate(target)
                    return record.model_copy(update={"point": found.point, "source": "dom", "element": found.element})
                except TargetError as exc:
                    problems.append(str(exc))
        if target.describe is not None:
            described = self._describe(record, target.describe, shot, screen, regrounding)
            if described.error is None or target.fallback is None:
                if problems:
                    described.reason = "; ".join([*problems, described.reason or "described instead"])
                return described
            problems.append(described.error)
        if target.fallback is not None:
            return record.model_copy(update={"point": target.fallback, "source": "fallback", "reason": "; ".join(problems)})
        return record.model_copy(update={"error": "; ".join(problems)})

    def _describe(
        self, record: ResolvedTarget, describe: str, shot: Screen, screen: TargetScreen | None, regrounding: bool
    ) -> ResolvedTarget:
        page = page_of(shot.observation)
        entry = self.cache.lookup(describe, page) if self.cache is not None else None
        healed, reason = False, None
        if regrounding:
            healed, reason = True, "the step's expect failed after the cached point"
        elif entry is not None:
            element = screen.element_at(entry.point) if screen is not None else None
            now = shot.signature(entry.point, element)
            changed = entry.signature.differences(now)
            if not changed:
                return record.model_copy(update={"point": entry.point, "source": "cache", "element": element,
                                                 "signature": now.model_dump(mode="json")})
            healed, reason = True, "signature changed: " + "; ".join(changed)
        elif self.cache is not None and self.cache.mode != "off":
            reason = "not in the cache" if self.cache.mode == "use" else "cache refresh"
        try:
            grounding = self.grounder.ground(describe, shot.observation)
        except PolicyUnavailable:
            raise  # the model server, not the target: the episode ends in error (resumable), as under a model policy
        except (GroundingError, PolicyError) as exc:
            return record.model_copy(update={"error": f"grounding {describe!r} failed: {exc}", "model_calls": 1,
                                             "healed": healed, "reason": reason})
        element = screen.element_at(grounding.point) if screen is not None else None
        signature = shot.signature(grounding.point, element)
        return record.model_copy(update={
            "point": grounding.point, "source": "model", "healed": healed, "reason": reason, "element": element,
            "signature": signature.model_dump(mode="json"), "model_calls": 1, "usage": grounding.usage,
        })

    @property
    def grounder(self) -> Grounder:
        if self._grounder is None:
            self._grounder = self._make_grounder()
        return self._grounder
