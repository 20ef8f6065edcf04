"""The Stripe sandbox's persistence: grouped store dumps, appended idempotency keys, and
every answered write still on disk when the sandbox is killed."""

from __future__ import annotations

import asyncio
import json
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from runner.sandbox.localstripe_persistence import KeyJournal, StoreWrites
from runner.sandbox.stripe_sandbox import start_stripe_sandbox


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keys_are_appended_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    journal = KeyJournal(path)
    journal.add("d1", ["fp1", 200, '{"id": "cus_1"}'])
    journal.add("d2", ["fp2", 400, '{"error": {}}'])
    assert len(path.read_text().splitlines()) == 2  # one line a key, nothing rewritten
    assert _mode(path) == 0o600
    again = KeyJournal(path)
    assert again.get("d1") == ["fp1", 200, '{"id": "cus_1"}']
    assert again.get("d2") == ["fp2", 400, '{"error": {}}']


def test_a_line_torn_by_a_kill_is_dropped_and_later_keys_still_land(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    KeyJournal(path).add("d1", ["fp1", 200, "{}"])
    with path.open("a") as f:
        f.write('["d2", "fp2", 2')  # the process died mid-append: no answer was sent
    journal = KeyJournal(path)
    assert journal.get("d2") is None
    journal.add("d3", ["fp3", 200, "{}"])  # on a line of its own: start-up rewrote the file
    reread = KeyJournal(path)
    assert reread.get("d1") == ["fp1", 200, "{}"]
    assert reread.get("d3") == ["fp3", 200, "{}"]


def test_the_older_one_object_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(json.dumps({"d1": ["fp1", 200, "{}"]}))
    journal = KeyJournal(path)
    assert journal.get("d1") == ["fp1", 200, "{}"]
    assert path.read_text().startswith("[")  # rewritten as lines, ready for appends


def test_memory_only_keys_touch_no_file(tmp_path: Path) -> None:
    journal = KeyJournal(None)
    journal.add("d1", ["fp1", 200, "{}"])
    assert journal.get("d1") == ["fp1", 200, "{}"]
    assert list(tmp_path.iterdir()) == []


class _Store:
    """A store whose dumps are counted, and what each dump held."""

    def __init__(self) -> None:
        self.data: dict[str, int] = {}
        self.dumps: list[dict[str, int]] = []
        self.fail = False

    def write(self) -> None:
        if self.fail:
            raise OSError("disk full")
        self.dumps.append(dict(self.data))


def test_requests_ending_together_share_one_dump_and_answer_after_it() -> None:
    store = _Store()
    writes = StoreWrites(store.write)
    answered: dict[str, int] = {}

    def handler(name: str) -> Any:
        async def handle(_request: Any) -> str:
            await asyncio.sleep(0)
            store.data[name] = 1
            writes.dump()  # what Store.__setitem__ calls
            store.data[name + ":event"] = 1
            writes.dump()
            return name
        return handle

    async def post(name: str) -> None:
        await writes.request(SimpleNamespace(method="POST"), handler(name))
        answered[name] = len(store.dumps)  # dumps made before the answer

    async def main() -> None:
        await asyncio.gather(*(post(f"cus_{i}") for i in range(4)))

    asyncio.run(main())
    assert len(store.dumps) == 1  # eight store changes in four requests: one dump
    for name, dumps_before in answered.items():
        assert dumps_before >= 1
        assert store.dumps[dumps_before - 1][name] == 1  # its answer came after its dump


def test_a_change_outside_a_request_is_dumped_at_once_and_a_get_dumps_nothing() -> None:
    store = _Store()
    writes = StoreWrites(store.write)
    store.data["evt_1"] = 1
    writes.dump()  # a scheduled event, no request in flight
    assert store.dumps == [{"evt_1": 1}]

    async def read(_request: Any) -> str:
        return "ok"

    asyncio.run(writes.request(SimpleNamespace(method="GET"), read))
    assert len(store.dumps) == 1


def test_a_failed_dump_fails_the_request_and_the_next_one_dumps_again() -> None:
    store = _Store()
    writes = StoreWrites(store.write)

    async def change(_request: Any) -> str:
        store.data["cus_1"] = 1
        writes.dump()
        return "ok"

    store.fail = True
    with pytest.raises(OSError, match="disk full"):
        asyncio.run(writes.request(SimpleNamespace(method="POST"), change))
    store.fail = False

    async def read(_request: Any) -> str:
        return "ok"

    asyncio.run(writes.request(SimpleNamespace(method="GET"), read))  # still dirty: dumps
    assert store.dumps == [{"cus_1": 1}]


@pytest.mark.slow
def test_every_answered_create_survives_a_kill_of_the_sandbox(tmp_path: Path) -> None:
    data = tmp_path / "stripe" / "localstripe.pickle"
    first = start_stripe_sandbox(data_file=data)
    try:
        client = first.client()

        def create(i: int) -> tuple[str, str]:
            made = client.v1.customers.create(params={"email": f"k{i}@example.com"},
                                              options={"idempotency_key": f"kill-{i}"})
            return f"kill-{i}", made.id

        with ThreadPoolExecutor(4) as pool:
            made = list(pool.map(create, range(12)))
        assert first.process is not None
        first.process.kill()  # SIGKILL: nothing is flushed on the way out
        first.process.wait(30)
    finally:
        first.stop()
    second = start_stripe_sandbox(data_file=data)
    try:
        client = second.client()
        for key, customer in made:
            assert client.v1.customers.retrieve(customer).id == customer
            i = key.split("-")[1]
            again = client.v1.customers.create(params={"email": f"k{i}@example.com"},
                                               options={"idempotency_key": key})
            assert again.id == customer  # the key's answer was kept too
    finally:
        second.stop()
