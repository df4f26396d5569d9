"""Business routes of the service, one module per resource.

Each module has `add_routes(app, ...)`, which declares its routes directly on the app.
FastAPI 0.165 resolves routes of an included `APIRouter` through an extra matching layer
on every request; declaring them on the app keeps the hot path as short as a bare app's.
"""
