# Production image: the registry under gunicorn; the same image runs the
# Celery worker and beat (see docker-compose.yml).
FROM node:20-bookworm-slim AS assets
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=registry.settings STATIC_ROOT=/app/var/static
WORKDIR /app
RUN useradd --system --uid 1000 --home /app registry
COPY pyproject.toml README.md requirements.lock ./
# The pinned versions of requirements.lock (./scripts/lock regenerates it), then the project.
RUN pip install --upgrade pip && pip install -r requirements.lock && pip install --no-deps .
COPY --from=assets /app/node_modules ./node_modules
COPY . .
RUN DEBUG=false SECRET_KEY=build-only python manage.py collectstatic --noinput \
    && python manage.py compiletranslations \
    && chown -R registry /app/var
USER registry
EXPOSE 8000
# Behind nginx (deploy/nginx.conf), never published directly: see docs/deployment.md.
CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "registry.wsgi:application"]
