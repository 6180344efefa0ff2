# webcare in a container; see docs/deployment.md and docker-compose.yml.
FROM python:3.11-slim
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir ".[postgres,listeners,whatsapp,email]" && useradd --system --home /app webcare && chown -R webcare /app
USER webcare
ENTRYPOINT ["webcare"]
CMD ["run"]
