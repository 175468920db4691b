# Image for web, worker, beat and the reference CSDs (docker-compose.yml). Configuration comes from the environment.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY manage.py ./
COPY hub ./hub
COPY csd_adapters ./csd_adapters
COPY iso20022 ./iso20022
RUN DEBUG=true python manage.py collectstatic --noinput
# var/reference_csd exists in the image so that the named volume mounted there starts owned by hub
RUN useradd --system --uid 10001 hub && mkdir -p /app/var/reference_csd && chown -R hub /app/var
USER hub
EXPOSE 8000
CMD ["gunicorn", "hub.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
