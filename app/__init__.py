"""production-api: a FastAPI service built to run on Kubernetes."""

__version__ = "0.2.0"
