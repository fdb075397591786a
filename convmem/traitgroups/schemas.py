"""Contract models of trait groups and trait definitions."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

GROUP_NAME_PATTERN = r"^[a-zA-Z0-9_\-\.]+$"


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StringValidationRule(_Rule):
    ruleType: Literal["STRING"]
    pattern: str | None = Field(default=None, max_length=1000)
    minLength: int | None = Field(default=None, ge=0)
    maxLength: int | None = Field(default=None, ge=1)


class NumberValidationRule(_Rule):
    ruleType: Literal["NUMBER"]
    min: float | None = None
    max: float | None = None


class BooleanValidationRule(_Rule):
    ruleType: Literal["BOOLEAN"]


class ArrayValidationRule(_Rule):
    ruleType: Literal["ARRAY"]
    minItems: int | None = Field(default=None, ge=0)
    maxItems: int | None = Field(default=None, ge=0)


ValidationRule = Annotated[
    StringValidationRule | NumberValidationRule | BooleanValidationRule | ArrayValidationRule,
    Field(discriminator="ruleType"),
]


class TraitDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataType: Literal["STRING", "NUMBER", "BOOLEAN", "ARRAY", ""]
    description: str | None = Field(default=None, max_length=1024)
    validationRule: ValidationRule | None = None
    idTypePromotion: str | None = Field(default=None, max_length=30)


class TraitGroupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    displayName: str = Field(min_length=1, max_length=64, pattern=GROUP_NAME_PATTERN)
    description: str | None = Field(default=None, max_length=1024)
    traits: dict[str, TraitDefinition] | None = Field(default=None, max_length=95)


class PatchTraitGroupBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, max_length=1024)
    traits: dict[str, TraitDefinition] | None = Field(default=None, max_length=95)


class TraitGroupBody(BaseModel):
    displayName: str
    description: str | None = None
    # Definitions as stored: each the ``TraitDefinition`` it was created from, without its unset fields.
    traits: dict[str, dict[str, Any]] | None = None
    version: int


class TraitGroupList(BaseModel):
    traitGroups: list[TraitGroupBody]
    meta: dict[str, Any]


class TraitGroupPage(BaseModel):
    """A group with one page of its trait definitions; ``meta`` describes that page."""

    traitGroup: TraitGroupBody
    meta: dict[str, Any]


def _definition(data_type: str, description: str, id_type: str | None = None) -> dict:
    definition = {"dataType": data_type, "description": description}
    if id_type:
        definition["idTypePromotion"] = id_type
    return definition


DEFAULT_CONTACT_GROUP = {
    "displayName": "Contact",
    "description": "Out-of-the-box contact traits. email and phone are promoted to identifiers.",
    "traits": {
        "email": _definition("STRING", "Email address", "email"),
        "phone": _definition("STRING", "Phone number", "phone"),
        "firstName": _definition("STRING", "First name"),
        "lastName": _definition("STRING", "Last name"),
        "street": _definition("STRING", "Street address"),
        "city": _definition("STRING", "City"),
        "state": _definition("STRING", "State or region"),
        "postalCode": _definition("STRING", "Postal code"),
        "country": _definition("STRING", "Country"),
    },
}
