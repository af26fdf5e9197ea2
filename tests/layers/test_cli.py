"""`cityops ingest`, `feed` and `layers list|dump|stats`, in-process, plus one bad-input subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import h3
import numpy as np
import pytest

from dashboard.cli import main
from layers.live.schema import LAYERS
from layers.testing import raw
from tests.layers.conftest import iot_events, truth_positions


@pytest.fixture()
def twin_dir(twin, tmp_path):
    twin.save(tmp_path / "small")
    return str(tmp_path / "small")


def _json(capsys):
    return json.loads(capsys.readouterr().out)


def test_layers_list_names_every_layer_and_window(capsys):
    assert main(["layers", "list"]) == 0
    out = _json(capsys)
    assert out["windows"] == ["5m", "1h", "24h"]
    assert {"iot.count", "video.person.count", "incident.noise.count", "iot.pm25.mean",
            "iot.water_level_m.max", "iot.co_ppm.last"} <= set(out["layers"])
    assert out["layers"] == LAYERS


def test_ingest_then_dump_maps_hex_cells_to_counts(bus, twin, twin_dir, capsys):
    events = iot_events(twin, 300, np.random.default_rng(0))
    bus.publish("iot", events)
    assert main(["ingest", "--twin", twin_dir, "--prefix", bus.prefix, "--until-idle"]) == 0
    capsys.readouterr()
    assert main(["layers", "dump", "iot.count", "--window", "1h", "--prefix", bus.prefix]) == 0
    dump = _json(capsys)
    truth = truth_positions(twin, [float(e["lat"]) for e in events],
                            [float(e["lng"]) for e in events])
    counts = np.bincount(truth, minlength=len(twin))
    expected = {h3.int_to_str(int(twin.cell_ids[i])): float(counts[i])
                for i in np.flatnonzero(counts)}
    assert dump == expected
    assert main(["layers", "stats", "--prefix", bus.prefix]) == 0
    health = _json(capsys)
    assert health["counted"] == 300 and health["streams"]["iot"]["pending"] == 0


def test_feed_publishes_events_the_worker_counts_without_dead_letters(bus, twin, twin_dir,
                                                                      capsys):
    assert main(["feed", "--twin", twin_dir, "--prefix", bus.prefix, "--rate", "2000",
                 "--duration", "1", "--batch", "100"]) == 0
    sent = _json(capsys)
    assert sent["total"] > 1000 and set(sent["sent"]) == {"iot", "video", "incident"}
    assert main(["ingest", "--twin", twin_dir, "--prefix", bus.prefix, "--until-idle"]) == 0
    assert main(["layers", "stats", "--prefix", bus.prefix]) == 0
    health = _json(capsys)
    assert health["counted"] == sent["total"] and health["dead"] == 0


def test_unknown_layer_or_window_is_a_one_line_error(bus, capsys):
    assert main(["layers", "dump", "iot.nope", "--prefix", bus.prefix]) == 2
    assert "unknown layer 'iot.nope'" in capsys.readouterr().err
    assert main(["layers", "dump", "iot.count", "--window", "2d", "--prefix", bus.prefix]) == 2
    assert "use one of 5m, 1h, 24h" in capsys.readouterr().err


def test_feed_with_a_non_positive_rate_is_rejected(twin_dir, capsys):
    assert main(["feed", "--twin", twin_dir, "--rate", "0", "--duration", "1"]) == 2
    assert "--rate must be positive" in capsys.readouterr().err


def test_cli_subprocess_exits_2_on_a_bad_twin_folder(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "dashboard.cli", "ingest", "--twin",
                           str(tmp_path / "missing"), "--until-idle"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("cityops: error:") and proc.stderr.count("\n") == 1


def test_sigterm_stops_the_worker_cleanly_and_frees_the_lease(bus, twin, twin_dir):
    import signal
    import time

    from layers.live.worker import stats

    proc = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "ingest", "--twin", twin_dir,
                             "--prefix", bus.prefix, "--consumer", "term"],
                            stderr=subprocess.PIPE)
    assert proc.stderr.readline().startswith(b"ingest: consumer term")
    bus.publish("iot", iot_events(twin, 50, np.random.default_rng(3)))
    deadline = time.monotonic() + 60
    while stats(bus)["counted"] < 50 and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert raw(bus).get(bus.keys.ingest_lease) is None
    assert stats(bus)["streams"]["iot"]["pending"] == 0


def test_layers_export_writes_a_range_of_history_as_one_cf_xdggs_file(bus, twin, tmp_path):
    import xarray as xr

    from layers.live import history
    from tests.outside.tools import cf_errors, people_seen

    minute = 29_000_000
    for m, seen in ((minute, {3: 2.0}), (minute + 1, {3: 1.0, 9: 4.0})):
        history.write_minute(bus.history_dir, m, people_seen(len(twin), seen), twin.cell_ids)
    out = tmp_path / "minutes.nc"
    assert main(["layers", "export", "--from", str(minute * 60), "--to", str(minute * 60 + 60),
                 "--layers", "video.person.count", "--out", str(out),
                 "--prefix", bus.prefix]) == 0
    with xr.open_dataset(out) as ds:
        counts = ds["video__person__count"]
        assert counts.dims == ("time", "cell") and ds.sizes["cell"] == len(twin)
        assert counts.sum("cell").values.tolist() == [2.0, 5.0]
    assert cf_errors(out) == []


def test_layers_export_of_an_unknown_layer_is_a_one_line_error(bus, tmp_path, capsys):
    assert main(["layers", "export", "--from", "0", "--to", "60", "--layers", "nonsense",
                 "--out", str(tmp_path / "x.nc"), "--prefix", bus.prefix]) == 2
    assert capsys.readouterr().err.count("\n") == 1
