"""Request and response bodies of the HTTP service (pydantic models; they make the OpenAPI spec)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, model_validator

Key = Annotated[StrictStr | StrictInt, Field(description="A key: a string, or an integer for int-keyed sets.")]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Vector = Annotated[list[FiniteFloat], Field(min_length=1, description="A query vector of the resource's dimension.")]
Scalar = StrictStr | StrictInt | StrictFloat | StrictBool | None
Filter = Annotated[dict[str, Scalar | list[Scalar]] | None,
                   Field(description="Metadata filter: column → value, or → list of accepted values.")]
Metric = Literal["cosine", "dot", "euclidean"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _exactly_one(model, *fields):
    given = [f for f in fields if getattr(model, f) is not None]
    if len(given) != 1:
        raise ValueError(f"give exactly one of {', '.join(fields)} (got {', '.join(given) or 'none'})")
    return model


class SimilarRequest(Body):
    key: Key | None = None
    vector: Vector | None = None
    k: int = Field(10, ge=1)
    metric: Metric | None = Field(None, description="Default: the resource's metric.")
    filter: Filter = None

    @model_validator(mode="after")
    def _one_query(self):
        return _exactly_one(self, "key", "vector")


class AnalogyRequest(Body):
    positive: list[Key] = Field(min_length=1, description='["king", "woman"] with negative ["man"] → queen')
    negative: list[Key] = []
    k: int = Field(10, ge=1)
    method: Literal["3cosadd", "3cosmul"] = "3cosadd"


class SearchRequest(Body):
    text: StrictStr | None = Field(None, min_length=1)
    vector: Vector | None = None
    k: int = Field(10, ge=1)
    filter: Filter = None

    @model_validator(mode="after")
    def _one_query(self):
        return _exactly_one(self, "text", "vector")


class EncodeRequest(Body):
    texts: list[StrictStr] = Field(min_length=1)


class RecommendRequest(Body):
    user: Key
    n: int = Field(10, ge=1)
    filter_seen: bool = True


class UpsertItem(Body):
    key: Key
    vector: Vector | None = None
    text: StrictStr | None = Field(None, min_length=1, description="Encoded by the collection's encoder.")
    metadata: dict[str, Scalar] | None = None

    @model_validator(mode="after")
    def _one_source(self):
        return _exactly_one(self, "vector", "text")


class UpsertRequest(Body):
    items: list[UpsertItem] = Field(min_length=1)


class DeleteRequest(Body):
    keys: list[Key] = Field(min_length=1)


class Hit(BaseModel):
    key: StrictStr | StrictInt
    score: float
    metadata: dict[str, Any] | None = None


class Hits(BaseModel):
    resource: str
    hits: list[Hit]


class Vectors(BaseModel):
    resource: str
    dim: int
    vectors: list[list[float]]


class WriteResult(BaseModel):
    resource: str
    count: int = Field(description="Keys written or deleted.")
    size: int = Field(description="Keys in the collection afterwards.")


class ResourceInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    kind: str
    operations: list[str]


class ResourceList(BaseModel):
    resources: list[ResourceInfo]


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    resources: int


class ErrorDetail(BaseModel):
    type: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail
