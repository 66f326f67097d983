"""Scores for embeddings against public benchmarks.

Word level (`words`): `analogy` (Google questions-words format, 3CosAdd and 3CosMul) and
`word_similarity` (WordSim-353, SimLex-999, MEN ... Spearman and Pearson), both following
gensim's semantics for vocabulary restriction, case and out-of-vocabulary words.
"""

from .words import AnalogyResult, SectionScore, SimilarityResult, analogy, word_similarity

__all__ = ["analogy", "word_similarity", "AnalogyResult", "SimilarityResult", "SectionScore"]
from .recommend import RankingResult, ranking_metrics, rating_metrics  # noqa: E402
__all__ += ["rating_metrics", "ranking_metrics", "RankingResult"]
from .graph import (  # noqa: E402
    CommunityResult, LinkPredictionResult, NodeClassificationResult, NodeLabels, communities,
    link_prediction, link_prediction_auc, modularity, node_classification, read_labels,
)
__all__ += ["node_classification", "link_prediction", "link_prediction_auc", "communities",
            "modularity", "read_labels", "NodeLabels", "NodeClassificationResult",
            "LinkPredictionResult", "CommunityResult"]
from .text import (  # noqa: E402
    BeirData, RetrievalResult, STSData, STSResult, read_beir, read_sts, retrieval, sts,
)
__all__ += ["read_sts", "sts", "read_beir", "retrieval", "STSData", "STSResult", "BeirData",
            "RetrievalResult"]
# binding the function last keeps `embedworks.evaluate.classification` the function, not the module
from .classification import (  # noqa: E402
    ClassificationResult, KNNResult, classification, knn_accuracy, linear_probe, stratified_split,
)
__all__ += ["classification", "knn_accuracy", "linear_probe", "stratified_split", "ClassificationResult",
            "KNNResult"]
