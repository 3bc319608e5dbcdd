# Jol API (+ worker). Build: docker build -t jol .  Run: docker run -p 8000:8000 -v jol:/data jol
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    JOL_DATA_DIR=/data JOL_HOST=0.0.0.0 JOL_PORT=8000
WORKDIR /srv/jol

RUN useradd --create-home --uid 10001 jol && mkdir -p /data && chown jol /data

COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY bot ./bot
COPY alembic ./alembic
COPY content ./content
# Editable install: the code finds its migrations and content beside it; catalogs are compiled.
RUN pip install -e . && pybabel compile -D messages -d app/i18n/locales

USER jol
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"JOL_PORT\"]}/healthz')"
# Migrate, publish the bundled content (a no-op when unchanged), then serve.
CMD ["sh", "-c", "jol db upgrade && jol content load && exec jol serve"]
