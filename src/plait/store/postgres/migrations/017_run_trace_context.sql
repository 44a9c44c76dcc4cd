-- The W3C trace context a run continues (OpenTelemetry, docs/observability.md "Traces"): the
-- traceparent (and tracestate) of the request, event or parent run that started it, as JSON.
-- Every execution of the run, on any worker, is a child of it. NULL: tracing was off.
ALTER TABLE runs ADD COLUMN trace_context TEXT;
