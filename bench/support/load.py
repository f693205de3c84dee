"""Run load generators written by others (wrk, ApacheBench) and read their reports."""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class LoadResult:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    failed: int
    report: str
    #: Response bodies received per second (ab's "HTML transferred" over its time, summed).
    body_bytes_per_s: float = 0.0
    #: Answers that were not 2xx (counted in ``failed`` unless the caller expects them).
    non_2xx: int = 0


# A response hook that counts answers other than the expected status, per thread, and a done
# hook that prints the total where the benchmark reads it (wrk's own "Non-2xx" misses 3xx).
WRK_STATUS_CHECK = """
local expected = %(status)d
local threads = {}
bad = 0
first_bad = ""
setup = function(thread) table.insert(threads, thread) end
response = function(status, headers, body)
  if status ~= expected then
    bad = bad + 1
    if first_bad == "" then first_bad = status .. " " .. string.sub(body or "", 1, 300) end
  end
end
done = function(summary, latency, requests)
  local total, sample = 0, ""
  for _, t in ipairs(threads) do
    total = total + t:get("bad")
    if sample == "" then sample = t:get("first_bad") end
  end
  io.write(string.format("bench-unexpected-status: %%d\\n", total))
  if total > 0 then io.write("bench-first-unexpected: " .. sample .. "\\n") end
end
"""


def wrk_status_check(status: int = 200) -> str:
    return WRK_STATUS_CHECK % {"status": status}


def run_wrk(url: str, script: Path, *, connections: int, seconds: int, threads: int = 1) -> LoadResult:
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    failed = int(_find(r"bench-unexpected-status:\s+(\d+)", out) or 0)
    failed += int(_find(r"Non-2xx or 3xx responses:\s+(\d+)", out) or 0)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if errors:
        failed += sum(int(n) for n in errors.groups())
    return LoadResult(
        requests=int(_find(r"(\d+) requests in", out) or 0),
        rps=float(_find(r"Requests/sec:\s+([\d.]+)", out) or 0),
        p50_ms=_wrk_latency(out, "50%"),
        p99_ms=_wrk_latency(out, "99%"),
        failed=failed,
        report=out,
    )


def _wrk_latency(out: str, label: str) -> float:
    match = re.search(rf"{re.escape(label)}\s+([\d.]+)(us|ms|s)\b", out)
    if not match:
        return float("nan")
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_ab(
    url: str,
    *,
    client_pems: list[Path],
    concurrency: int,
    keepalive: bool,
    seconds: int | None = None,
    requests: int = 1_000_000,
    urls: list[str] | None = None,
    headers: list[list[str]] | None = None,
    non_2xx_expected: bool = False,
) -> LoadResult:
    """ApacheBench with a client certificate (``-E``; wrk cannot present one).

    One ab process per certificate in ``client_pems``, all at once, each with ``concurrency``
    requests in flight (ab is single-threaded, and a per-device rate limit applies to each
    certificate). ab prints its percentiles in whole milliseconds; its CSV (``-e``) has them to
    the microsecond, which the comparison needs; the processes' percentile curves are merged,
    weighted by their request counts. ``seconds`` stops the run early (ab stops at whichever of
    time and count comes first; ``-t`` must precede ``-n``). ``urls`` and ``headers`` give each
    process its own URL and request headers (a device's own address, its own ETag). ab counts
    any answer but a 2xx as "Non-2xx": with ``non_2xx_expected`` (a run of 304s) they are not
    failures, and the caller checks the statuses elsewhere (nginx's access log).
    """
    runs = []
    for i, pem in enumerate(client_pems):
        csv = pem.with_name(f"ab-{time.monotonic_ns()}.csv")
        command = ["ab", "-q", "-S", "-r", "-E", str(pem), "-c", str(concurrency), "-e", str(csv)]
        if seconds is not None:
            command += ["-t", str(seconds)]
        command += ["-n", str(requests // len(client_pems))]
        if keepalive:
            command.append("-k")
        for header in headers[i] if headers else []:
            command += ["-H", header]
        process = subprocess.Popen(
            [*command, urls[i] if urls else url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        runs.append((process, csv))
    outs, curves = [], []
    for process, csv in runs:
        out = process.communicate()[0]
        if "Requests per second" not in out:
            raise SystemExit(f"ab did not complete against {url}:\n{out}")
        outs.append(out)
        curves.append([float(line.partition(",")[2]) for line in csv.read_text().splitlines()[1:]])
        csv.unlink()
    counts = [int(_find(r"Complete requests:\s+(\d+)", out) or 0) for out in outs]
    non_2xx = sum(int(_find(r"Non-2xx responses:\s+(\d+)", out) or 0) for out in outs)
    failed = sum(
        int(_find(rf"{label}:\s+(\d+)", out) or 0)
        for out in outs
        for label in ("Failed requests", "Exceptions")
    ) + (0 if non_2xx_expected else non_2xx)
    body_rate = sum(
        int(_find(r"HTML transferred:\s+(\d+)", out) or 0)
        / float(_find(r"Time taken for tests:\s+([\d.]+)", out) or 1)
        for out in outs
    )
    return LoadResult(
        requests=sum(counts),
        rps=sum(float(_find(r"Requests per second:\s+([\d.]+)", out) or 0) for out in outs),
        p50_ms=_merged_percentile(curves, counts, 50),
        p99_ms=_merged_percentile(curves, counts, 99),
        failed=failed,
        report="\n".join(outs),
        body_bytes_per_s=body_rate,
        non_2xx=non_2xx,
    )


def _merged_percentile(curves: list[list[float]], counts: list[int], share: int) -> float:
    """A percentile of several runs together, from each run's 0..100 % curve (1 % steps)."""
    if len(curves) == 1:
        return curves[0][share]
    points = sorted(
        (curve[i], count / 100) for curve, count in zip(curves, counts, strict=True) for i in range(1, 101)
    )
    wanted, seen = sum(counts) * share / 100, 0.0
    for value, weight in points:
        seen += weight
        if seen >= wanted:
            return value
    return points[-1][0]


def _find(pattern: str, text: str) -> str | None:
    match = re.search(pattern, text)
    return match.group(1) if match else None
