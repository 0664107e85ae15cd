# pymock: a zero-install HTTP mock server. Standard library only, so nothing is pip-installed.
#
#   docker build -t pymock .
#   docker run --rm -p 8080:8080 -v "$PWD/config.json:/config/config.json:ro" pymock
#   # programmable provisions (h1mock-compatible) on the admin port 8074:
#   docker run --rm -p 8080:8080 -p 8074:8074 -v "$PWD/provisions:/provisions" pymock \
#       /config/config.json --provisions /provisions --allow-provisions
#
# Arguments after the image name replace CMD (the config path); see docs/deploy.md.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYMOCK_HOST=0.0.0.0 \
    PYMOCK_PORT=8080

WORKDIR /app
COPY pymock/ /app/pymock/
COPY mock_server.py config.json /app/

# The demo config is the default; mount your own over /config. /provisions is writable by
# the server's user so the provision admin API can save what it is sent.
RUN python -m compileall -q /app/pymock \
    && mkdir -p /config /provisions \
    && cp /app/config.json /config/config.json \
    && chown -R 10001:10001 /config /provisions

# A numeric user: Kubernetes' runAsNonRoot can verify it without /etc/passwd.
USER 10001:10001

VOLUME ["/config", "/provisions"]
EXPOSE 8080 8074

# Sends the admin token when one is set (PYMOCK_ADMIN_TOKEN), as /__admin needs it then.
HEALTHCHECK --interval=15s --timeout=3s --start-period=5s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; t = os.environ.get('PYMOCK_ADMIN_TOKEN'); u.urlopen(u.Request('http://127.0.0.1:%s/__admin/health' % os.environ.get('PYMOCK_PORT', '8080'), headers={'Authorization': 'Bearer ' + t} if t else {}), timeout=3)"]

ENTRYPOINT ["python", "/app/mock_server.py"]
CMD ["/config/config.json"]
