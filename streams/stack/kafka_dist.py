"""The Kafka distribution of the local stack: a Java runtime and the broker jars from Maven Central.

The jars are resolved once per Kafka version by Maven (``maven/pom.xml``) into
``settings.cache_dir / "kafka-<version>" / "libs"``, outside the repository.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import click

from streams.stack.process import StackError
from streams.stack.settings import StackSettings

POM = Path(__file__).resolve().parent / "maven" / "pom.xml"
MIN_JAVA = 17
JAVA_HINT = f"Java {MIN_JAVA}+ is required: apt-get install openjdk-17-jre-headless"
MAVEN_HINT = "Maven 3.8+ is required: apt-get install maven"
# Written last, after the jars are in place; names what they were resolved from.
MARKER = ".resolved"


def libs_dir(settings: StackSettings) -> Path:
    """Where the jars of ``settings.kafka_version`` live."""
    return settings.cache_dir / f"kafka-{settings.kafka_version}" / "libs"


def require_java() -> str:
    """The ``java`` executable (``$JAVA_HOME/bin/java`` first), checked to be Java 17 or newer."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if java is None or not os.access(java, os.X_OK):
        raise StackError(JAVA_HINT)
    result = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    major = java_major(result.stderr)
    if major is None or major < MIN_JAVA:
        raise StackError(f"{JAVA_HINT} (found: {result.stderr.strip().splitlines()[:1]})")
    return java


def java_major(version_output: str) -> int | None:
    """The major version from ``java -version`` output: 17 from "17.0.15", 8 from "1.8.0_402"."""
    found = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if found is None:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def _fingerprint(version: str) -> str:
    """Changes whenever the version or the pom changes, so either forces a new resolution."""
    return f"kafka {version} pom {hashlib.sha256(POM.read_bytes()).hexdigest()}\n"


def ensure_jars(settings: StackSettings) -> Path:
    """Resolve the Kafka jars with Maven unless already done; return the ``libs`` directory."""
    libs = libs_dir(settings)
    fingerprint = _fingerprint(settings.kafka_version)
    marker = libs / MARKER
    if marker.is_file() and marker.read_text() == fingerprint:
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError(MAVEN_HINT)
    click.echo(
        f"kafka: resolving Kafka {settings.kafka_version} jars from Maven Central "
        f"(first run only) into {libs} ..."
    )
    started = time.monotonic()
    # Into a scratch directory first, so an interrupted download never looks complete.
    partial = libs.with_name("libs.partial")
    shutil.rmtree(partial, ignore_errors=True)
    command = [
        mvn, "-q", "-B", "-Dstyle.color=never", "-f", str(POM),
        "dependency:copy-dependencies",
        f"-Dkafka.version={settings.kafka_version}",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={partial}",
    ]  # fmt: skip
    if subprocess.run(command, check=False).returncode != 0:
        raise StackError(
            f"Maven could not resolve org.apache.kafka:kafka_2.13:{settings.kafka_version} "
            "(see its errors above). Check the network, or NEZLAM_KAFKA_VERSION."
        )
    shutil.rmtree(libs, ignore_errors=True)
    partial.rename(libs)
    (libs / MARKER).write_text(fingerprint)
    jars = len(list(libs.glob("*.jar")))
    click.echo(f"kafka: resolved {jars} jars in {time.monotonic() - started:.1f} s")
    return libs
