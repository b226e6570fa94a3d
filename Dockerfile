# rdplan HTTP service: `docker build -t rdplan . && docker run --init -p 8000:8000 -v rdplan-data:/data rdplan`
# Embedded defaults: SQLite in /data and in-process worker processes. For PostgreSQL and
# Celery set RDPLAN_DATABASE_URL / RDPLAN_BROKER_URL; run workers with `rdplan worker`.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY solver ./solver
COPY api ./api
COPY instances ./instances
COPY benchmarks ./benchmarks
RUN pip install . && rm -rf /src

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    RDPLAN_DATABASE_URL=sqlite:////data/rdplan.db
COPY --from=build /opt/venv /opt/venv
RUN groupadd --system --gid 10001 rdplan \
    && useradd --system --uid 10001 --gid rdplan --home-dir /data --create-home --shell /usr/sbin/nologin rdplan
USER rdplan
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]
CMD ["rdplan", "serve", "--host", "0.0.0.0", "--port", "8000"]
