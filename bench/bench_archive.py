"""Recording downloads: zoomq's streamed download next to ``curl`` on the same URLs, same run.

Run: ``.venv/bin/python bench/bench_archive.py [--size 1] [--rss-size 2] [--meetings 20]``.
The sandbox (``zoomq sandbox``, its own process, rate limits off) serves every file;
both sides fetch ``/rec/download/{id}`` with the download token and follow the 302 to
its CDN, writing to the same disk. Measured:

- one large file (``--size`` GiB): MiB/s of zoomq's ``download`` into ``LocalStorage``
  (chunked, SHA-256 while streaming, fsync, rename) vs ``curl -o``, medians of ``--runs``
  alternated runs of each side; target ≥ 0.8x curl;
- peak RSS of the downloading process for a ``--rss-size`` GiB file (target ≤ 100 MB),
  next to the same process's RSS before it downloads and curl's;
- the same on S3 (``--s3-size`` GiB, a moto server of its own; 0 skips it);
- many small files (``--files`` of 1-50 MB per meeting x ``--meetings``): files/s with 4
  concurrent downloads vs 4 parallel curls.

zoomq's side runs in a child process (``--child``), so its RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import machine
from zoomq.redis_server import free_port

MIB = 1 << 20
GIB = 1 << 30
REPO = Path(__file__).resolve().parents[1]


# -- the child: zoomq's download, in a process of its own --------------------------------


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Download ``spec["files"]`` with ``spec["concurrency"]`` threads; time, bytes, peak RSS."""
    from zoomq.archive.download import download, download_hosts
    from zoomq.archive.files import RecordingFile
    from zoomq.archive.http11 import Http11
    from zoomq.archive.storage import open_storage

    storage = open_storage(spec["dest"], s3_options=spec.get("s3_options"))
    files = [RecordingFile.from_dict(f) for f in spec["files"]]
    token = spec["token"]
    chunk = int(spec.get("chunk", MIB))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    allowed = download_hosts(["127.0.0.1"])

    client = Http11(timeout=60.0, connect_timeout=5.0)  # a connection per GET, no pool

    def one(f: RecordingFile) -> int:
        stored = download(
            client,
            f,
            storage.begin(storage.key_for(f)),
            token=token,
            allowed_hosts=allowed,
            chunk_size=chunk,
        )
        return stored.size

    start = time.perf_counter()
    if spec["concurrency"] == 1:
        total = sum(one(f) for f in files)
    else:
        with ThreadPoolExecutor(spec["concurrency"]) as pool:
            total = sum(pool.map(one, files))
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": seconds, "bytes": total, "rss_before_kb": before, "rss_peak_kb": peak}


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    if out.returncode != 0:
        raise RuntimeError(f"the download process failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# -- curl -------------------------------------------------------------------------------


def curl(url: str, token: str, dest: Path) -> float:
    """Seconds of one ``curl -L`` of ``url`` into ``dest``."""
    start = time.perf_counter()
    subprocess.run(
        ["curl", "-sS", "--fail", "-L", "-H", f"Authorization: Bearer {token}", "-o", str(dest),
         url],
        check=True,
    )  # fmt: skip
    return time.perf_counter() - start


# -- the sandbox ------------------------------------------------------------------------


class Sandbox:
    """``zoomq sandbox`` as its own process, rate limits off."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "zoomq", "sandbox", "--port", str(self.port),
             "--no-rate-limits"],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(self.url + "/_sandbox/state", timeout=0.5).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.close()
                    raise RuntimeError("the sandbox did not start") from None
                time.sleep(0.1)
        state = httpx.get(self.url + "/_sandbox/state").json()
        self.owner = state["seeded"]["owner_email"]

    def recordings(self, sizes: list[int], count: int = 1) -> list[dict[str, Any]]:
        answer = httpx.post(
            f"{self.url}/_sandbox/users/{self.owner}/recordings",
            json={"count": count, "file_sizes": sizes},
            timeout=30,
        )
        answer.raise_for_status()
        found: list[dict[str, Any]] = answer.json()["recordings"]
        return found

    def token(self) -> str:
        answer = httpx.post(self.url + "/_sandbox/download_tokens", json={"ttl": 86_400})
        answer.raise_for_status()
        return str(answer.json()["download_token"])

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def files_of(recordings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from zoomq.archive.files import files_of as zoom_files

    return [
        f.to_dict() for r in recordings for f in zoom_files(r, connection="bench", account="bench")
    ]


def row(name: str, value: float, unit: str, baseline: float | None) -> None:
    ratio = f"{value / baseline:>6.2f}x" if baseline else ""
    print(f"{name:<56} {value:>12,.1f} {unit:<8} {ratio}")


# -- the measurements -------------------------------------------------------------------


def large(sandbox: Sandbox, tmp: Path, size: int, token: str, runs: int) -> None:
    """``runs`` alternated pairs (curl first, then zoomq first, ...) on the same file; the
    medians, and the ratio of each pair."""
    files = files_of(sandbox.recordings([size]))
    url = files[0]["download_url"]
    mib = size / MIB
    curls: list[float] = []
    mine: list[dict[str, Any]] = []
    for i in range(runs):
        for side in ("curl", "zoomq") if i % 2 == 0 else ("zoomq", "curl"):
            if side == "curl":
                curls.append(mib / curl(url, token, tmp / "curl.bin"))
                (tmp / "curl.bin").unlink()
            else:
                spec = {"dest": str(tmp / "z"), "files": files, "token": token, "concurrency": 1}
                mine.append(run_child(spec))
                shutil.rmtree(tmp / "z")
    rates = [mib / m["seconds"] for m in mine]
    ratios = sorted(z / c for z, c in zip(rates, curls, strict=True))
    curl_rate, rate = statistics.median(curls), statistics.median(rates)
    print(f"\n## One {size / GIB:g} GiB file from the sandbox CDN, {runs} runs  ({machine()})")
    row("curl -L -o (baseline, median)", curl_rate, "MiB/s", curl_rate)
    row("zoomq download → LocalStorage (sha256, fsync; median)", rate, "MiB/s", curl_rate)
    print(f"  (each run's ratio: {', '.join(f'{r:.2f}' for r in ratios)})")
    row("  (zoomq process peak RSS)", max(m["rss_peak_kb"] for m in mine) / 1024, "MB", None)


def peak_rss(sandbox: Sandbox, tmp: Path, size: int, token: str) -> None:
    files = files_of(sandbox.recordings([size]))
    mine = run_child({"dest": str(tmp / "z"), "files": files, "token": token, "concurrency": 1})
    shutil.rmtree(tmp / "z")
    print(f"\n## Peak RSS downloading one {size / GIB:g} GiB file (target ≤ 100 MB)")
    row(
        "the process before downloading (Python + zoomq + httpx)",
        mine["rss_before_kb"] / 1024,
        "MB",
        None,
    )
    row("the process at its peak", mine["rss_peak_kb"] / 1024, "MB", None)


def peak_rss_s3(sandbox: Sandbox, size: int, token: str) -> None:
    """The same on S3: a moto server (its own process), multipart upload streamed from the
    download, at most one part buffered."""
    import boto3

    env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    port = free_port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(endpoint, timeout=0.5)
                break
            except httpx.TransportError:
                if moto.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the moto server did not start") from None
                time.sleep(0.1)
        boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="bench", aws_secret_access_key="bench",
        ).create_bucket(Bucket="bench")  # fmt: skip
        files = files_of(sandbox.recordings([size]))
        os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
        mine = run_child(
            {
                "dest": "s3://bench/archive",
                "s3_options": {"endpoint_url": endpoint, "region": "us-east-1"},
                "files": files,
                "token": token,
                "concurrency": 1,
            }
        )
    finally:
        moto.terminate()
        try:
            moto.wait(10)
        except subprocess.TimeoutExpired:
            moto.kill()
            moto.wait()
    print(f"\n## Peak RSS downloading one {size / GIB:g} GiB file to S3 (moto server, 8 MiB parts)")
    row("the process at its peak", mine["rss_peak_kb"] / 1024, "MB", None)
    row("  (MiB/s into moto)", size / MIB / mine["seconds"], "MiB/s", None)


def many(
    sandbox: Sandbox, tmp: Path, meetings: int, per_meeting: int, concurrency: int, token: str
) -> None:
    rng = random.Random(9)
    recordings = []
    for _ in range(meetings):
        sizes = [rng.randint(1, 50) * MIB for _ in range(per_meeting)]
        recordings += sandbox.recordings(sizes)
    files = files_of(recordings)
    total = sum(f["file_size"] for f in files)
    out = tmp / "curls"
    out.mkdir()
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda f: curl(f["download_url"], token, out / f["file_id"]), files))
    curl_s = time.perf_counter() - start
    shutil.rmtree(out)
    mine = run_child(
        {"dest": str(tmp / "z"), "files": files, "token": token, "concurrency": concurrency}
    )
    shutil.rmtree(tmp / "z")
    n = len(files)
    print(
        f"\n## {n} files of 1-50 MB ({meetings} meetings x {per_meeting}, "
        f"{total / GIB:.1f} GiB), {concurrency} at a time"
    )
    row(f"{concurrency} parallel curls (baseline)", n / curl_s, "files/s", n / curl_s)
    row(f"zoomq download, {concurrency} threads", n / mine["seconds"], "files/s", n / curl_s)
    row("  (zoomq MiB/s)", total / MIB / mine["seconds"], "MiB/s", total / MIB / curl_s)
    row("  (zoomq process peak RSS, 4 downloads at once)", mine["rss_peak_kb"] / 1024, "MB", None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=float, default=1.0, help="the large file, GiB")
    parser.add_argument("--runs", type=int, default=3, help="alternated runs of each side")
    parser.add_argument("--rss-size", type=float, default=2.0, help="the RSS file, GiB")
    parser.add_argument("--s3-size", type=float, default=2.0, help="the S3 RSS file, GiB; 0: skip")
    parser.add_argument("--meetings", type=int, default=20)
    parser.add_argument("--files", type=int, default=12, help="files per meeting")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(sys.stdin.read()))))
        return
    if not shutil.which("curl"):
        sys.exit("bench_archive needs curl")
    sandbox = Sandbox()
    try:
        with tempfile.TemporaryDirectory() as name:
            tmp = Path(name)
            token = sandbox.token()
            large(sandbox, tmp, int(args.size * GIB), token, args.runs)
            peak_rss(sandbox, tmp, int(args.rss_size * GIB), token)
            if args.s3_size > 0:
                peak_rss_s3(sandbox, int(args.s3_size * GIB), token)
            if args.meetings > 0:
                many(sandbox, tmp, args.meetings, args.files, args.concurrency, token)
    finally:
        sandbox.close()


if __name__ == "__main__":
    main()
