# syntax=docker/dockerfile:1
# tempstream: a static binary on an empty image, run as a non-root user.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/tempstream ./cmd/tempstream \
 && mkdir -p /out/data

FROM scratch
COPY --from=build /out/tempstream /tempstream
# JetStream's store (the default --store nats with an embedded server).
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV TEMPSTREAM_ADDR=0.0.0.0:5000 \
    TEMPSTREAM_LOG_FORMAT=json \
    TEMPSTREAM_DATA_DIR=/data
VOLUME /data
EXPOSE 5000
# The binary checks itself: the image has no shell and no curl.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["/tempstream", "healthcheck"]
ENTRYPOINT ["/tempstream"]
