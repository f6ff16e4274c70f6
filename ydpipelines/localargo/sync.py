"""``synchronization``: semaphores (limits from ConfigMaps the engine keeps under its data
dir) and mutexes, at workflow and template level, first come first served. What a workflow
holds is written to ``status.synchronization`` (Argo's shape) so a restart restores it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .controller import Operation
    from .engine import Engine


class Sync:
    def __init__(self, engine: Engine) -> None:
        self.e = engine
        self.holders: dict[str, list[str]] = {}
        self.waiters: dict[str, list[tuple[str, tuple[str, str]]]] = {}

    def locks(self, op: Operation, sync: dict[str, Any]) -> list[tuple[str, int, str]]:
        """(lock key, limit, kind) for each lock a synchronization block asks for."""
        out = []
        sems = list(sync.get("semaphores") or []) + (
            [sync["semaphore"]] if sync.get("semaphore") else []
        )
        for sem in sems:
            ref = sem.get("configMapKeyRef") or {}
            ns = sem.get("namespace") or op.ns
            raw = self.e.configmap_value(ns, ref.get("name", ""), ref.get("key", ""))
            key = f"{ns}/ConfigMap/{ref.get('name')}/{ref.get('key')}"
            if raw is None:
                raise LookupError(
                    f"failed to acquire lock {key}: configmap {ref.get('name')} key "
                    f"{ref.get('key')} not found"
                )
            try:
                limit = int(raw.strip())
            except ValueError:
                raise LookupError(f"semaphore {key}: limit {raw!r} is not an integer") from None
            out.append((key, limit, "semaphore"))
        mutexes = list(sync.get("mutexes") or []) + ([sync["mutex"]] if sync.get("mutex") else [])
        for mutex in mutexes:
            ns = mutex.get("namespace") or op.ns
            out.append((f"{ns}/Mutex/{mutex.get('name')}", 1, "mutex"))
        return out

    def acquire(self, op: Operation, sync: dict[str, Any], holder: str, node: dict | None) -> bool:
        try:
            locks = self.locks(op, sync)
        except LookupError as exc:
            if node is not None:
                op.finish(node, "Error", str(exc))
            else:
                op.status["phase"] = "Error"
                op.status["message"] = str(exc)
            return True  # not waiting: the error ends it
        wf_key = (op.ns, op.name)
        free = True
        for key, limit, _ in locks:
            held = self.holders.setdefault(key, [])
            if holder in held:
                continue
            queue = self.waiters.setdefault(key, [])
            if holder not in [h for h, _ in queue]:
                queue.append((holder, wf_key))
            ahead = [h for h, _ in queue].index(holder)
            if len(held) + ahead >= limit:
                free = False
        if not free:
            return False
        for key, _, _ in locks:
            held = self.holders.setdefault(key, [])
            if holder not in held:
                held.append(holder)
            self.waiters[key] = [w for w in self.waiters.get(key, []) if w[0] != holder]
        self._write_status(op)
        return True

    def waiting_message(self, op: Operation, sync: dict[str, Any]) -> str:
        try:
            locks = self.locks(op, sync)
        except LookupError as exc:
            return str(exc)
        names = ", ".join(
            f"{key} ({len(self.holders.get(key, []))}/{limit})" for key, limit, _ in locks
        )
        return f"Waiting for {names} lock"

    def holds(self, holder: str) -> bool:
        return any(holder in held for held in self.holders.values())

    def release_all(self, op: Operation, holder: str) -> None:
        changed = False
        for key, held in self.holders.items():
            if holder in held:
                held.remove(holder)
                changed = True
                for _, wf_key in self.waiters.get(key, []):
                    self.e._queue.add(wf_key)
        for key in list(self.waiters):
            self.waiters[key] = [w for w in self.waiters[key] if w[0] != holder]
        if changed:
            self._write_status(op)

    def release_all_of(self, wf: dict[str, Any]) -> None:
        ns, name = wf["metadata"]["namespace"], wf["metadata"]["name"]
        mine = {f"{ns}/{name}", *wf.get("status", {}).get("nodes", {}).keys()}
        for key, held in self.holders.items():
            if any(h in mine for h in held):
                held[:] = [h for h in held if h not in mine]
                for _, wf_key in self.waiters.get(key, []):
                    self.e._queue.add(wf_key)
        for key in list(self.waiters):
            self.waiters[key] = [w for w in self.waiters[key] if w[1] != (ns, name)]

    def _write_status(self, op: Operation) -> None:
        mine = {f"{op.ns}/{op.name}", *op.nodes.keys()}
        sems, mutexes = [], []
        for key, held in self.holders.items():
            ours = [h for h in held if h in mine]
            if not ours:
                continue
            if "/Mutex/" in key:
                mutexes.append({"mutex": key, "holder": ours[0]})
            else:
                sems.append({"semaphore": key, "holders": ours})
        status: dict[str, Any] = {}
        if sems:
            status["semaphore"] = {"holding": sems}
        if mutexes:
            status["mutex"] = {"holding": mutexes}
        if status:
            op.status["synchronization"] = status
        else:
            op.status.pop("synchronization", None)

    def restore(self, wf: dict[str, Any]) -> None:
        sync = (wf.get("status") or {}).get("synchronization") or {}
        for entry in (sync.get("semaphore") or {}).get("holding", []):
            held = self.holders.setdefault(entry["semaphore"], [])
            held.extend(h for h in entry.get("holders", []) if h not in held)
        for entry in (sync.get("mutex") or {}).get("holding", []):
            held = self.holders.setdefault(entry["mutex"], [])
            if entry.get("holder") and entry["holder"] not in held:
                held.append(entry["holder"])
