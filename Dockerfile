# AI Spark API image: slim, non-root, no dev dependencies. Serves with the same entry point as
# `make run` (python main.py), configured only through the environment.
# The export's C speedups (setup.py), built where a compiler is, copied next to their modules below.
FROM python:3.11-slim AS native
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY setup.py ./
COPY shared ./shared
COPY features ./features
RUN pip install --no-compile "setuptools>=68" \
    && python setup.py build_ext --inplace \
    && mkdir /built \
    && find shared features -name '*.so' -exec cp --parents {} /built/ \;

FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 spark

WORKDIR /app
COPY pyproject.toml ./
RUN pip install --no-compile .

COPY main.py ./
COPY shared ./shared
COPY features ./features
COPY --from=native /built/ ./

RUN mkdir -p /data/exports /data/imports && chown -R spark:spark /data
USER spark

ENV HOST=0.0.0.0 \
    PORT=8000 \
    EXPORT_BASE_PATH=/data/exports \
    IMPORT_BASE_PATH=/data/imports

EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=6s --start-period=20s --retries=3 \
    CMD python -c "import os,urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"8000\")}/health', timeout=5)"

CMD ["python", "main.py"]
