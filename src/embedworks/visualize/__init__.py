"""See the embeddings: projections (PCA, t-SNE, UMAP), static plots, and an HTML projector.

    >>> from embedworks.visualize import project, plot, projector
    >>> xy = project(emb, method="tsne", dims=2, seed=0, top_n=5000)   # (5000, 2) float32
    >>> plot(emb, "map.png", method="tsne", top_n=5000, color_by="pos")
    >>> projector(emb, "projector.html", methods="pca,tsne", top_n=5000, neighbors=10)

Needs the `viz` extra (matplotlib, openTSNE, umap-learn); each is imported only when used.
"""

from .project import PCA, TSNE, UMAP, Projection, fit_projection, project, projection, select
from .projector import ProjectorPage, export_tensorboard, neighbor_table, projector
from .render import Plot, plot

__all__ = ["project", "plot", "projector", "select", "projection", "fit_projection", "export_tensorboard",
           "neighbor_table", "PCA", "TSNE", "UMAP", "Projection", "Plot", "ProjectorPage"]
