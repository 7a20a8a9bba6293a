"""Istio's routing config: records (`records`), the one parser of
VirtualService/DestinationRule manifests (`parse`), and where they are read
from (`load`: files, manifests in memory, the Kubernetes API)."""
