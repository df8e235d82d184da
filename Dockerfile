# syntax=docker/dockerfile:1
# The dance-analysis service in one container: a one-node Ray cluster running the
# `dance` Serve app on port 8000, with the pose model baked in.
#
#   docker build -t dance-pose .
#   docker run --rm -p 8000:8000 --shm-size=2g dance-pose
#
# Base: python:3.11-slim-bookworm, not rayproject/ray:2.60.0-py311-cpu. The Ray image
# is Ubuntu plus a conda Python with Ray's extras and tools preinstalled, all of which
# we would carry (and patch) without using; its user has passwordless sudo; and our
# pinned versions would be installed over its own, so the lock would no longer be the
# whole truth. The slim image is ~130 MB before the locked venv (~1 GB), has no sudo,
# and is the Python minor (3.11) and Debian release (12) the project is tested on.
# Pin it by digest (python:3.11-slim-bookworm@sha256:...) for bit-for-bit rebuilds;
# the tag gets Python and Debian security fixes.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS base
# MediaPipe's native library (mediapipe/tasks/c/libmediapipe.so) links libEGL.so.1
# and libGLESv2.so.2, which a slim image lacks (libegl1, libgles2; no X or GPU
# driver needed for CPU inference). Everything else the wheels link (libc, libm,
# libstdc++, libgcc_s, libz) is in the base image; PyAV's wheel bundles FFmpeg and
# OpenCV's headless wheel its own libraries. tini: a PID 1 that forwards signals
# and reaps the processes Ray starts.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libegl1 libgles2 tini \
 && rm -rf /var/lib/apt/lists/*
ENV PATH=/opt/venv/bin:$PATH \
    POSECORE_CACHE_DIR=/opt/posecore \
    PYTHONUNBUFFERED=1

FROM base AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
# The runtime lock `make serve` installs, the same way: --no-deps, because it is
# complete and keeps mediapipe's GUI OpenCV out (see the note in the file).
COPY requirements.lock /tmp/requirements.lock
RUN pip install --no-deps -r /tmp/requirements.lock
WORKDIR /app
COPY posecore posecore
# The pose model, built by the same tested step as `make` (python -m posecore model,
# see posecore/model_bundle.py) into $POSECORE_CACHE_DIR. Replicas never build or
# download it.
RUN python -m posecore model

FROM base AS runtime
RUN useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin dance
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/posecore /opt/posecore
WORKDIR /app
COPY posecore posecore
COPY serve_app serve_app
COPY serve_config.yaml serve_config.yaml
# serve_config.yaml binds Serve to 127.0.0.1, right on one machine; in a container
# it must listen on 0.0.0.0, and a public API needs its keys: /analyze requires a
# key from /run/secrets/dance_api_keys (mount it: README "Docker"; without it the
# app does not start). Derived from that one file, nothing else changed (the same
# rewrite as cluster.yaml's; tests/deploy checks both).
RUN python -c "import sys, yaml; c = yaml.safe_load(open('serve_config.yaml')); c['http_options']['host'] = '0.0.0.0'; c['applications'][0]['args']['api_key_file'] = sys.argv[1]; open('serve_config.public.yaml', 'w').write(yaml.safe_dump(c, sort_keys=False))" /run/secrets/dance_api_keys
# The code is read-only, root-owned; the app user writes only to its home (Ray's
# auth token, ~/.ray) and /tmp (Ray's session and logs: /tmp/ray/session_latest/logs).
# Ray's own processes (its HTTP proxy) take their environment from here, not from
# serve_config.yaml: the proxy's heap trimmed after large uploads, two malloc arenas
# (serve_app/proxy_memory.py NODE_ENV; the Makefile and cluster.yaml set the same).
ENV PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    RAY_USAGE_STATS_ENABLED=0 \
    MALLOC_ARENA_MAX=2 \
    RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH=serve_app.proxy_memory.proxy_middlewares
USER dance
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
# `serve run` stops Serve and Ray cleanly on SIGINT (Ctrl-C); make `docker stop` send it.
STOPSIGNAL SIGINT
ENTRYPOINT ["tini", "--"]
CMD ["serve", "run", "serve_config.public.yaml"]
