"""Two people for what needs two (write-offs, manual matches, month closes, receipt
corrections): who the person behind an actor is, and the refusals when the checker is the
maker or is nobody. Pure; below every service that asks for a second person."""

from __future__ import annotations

from recon.errors import Forbidden


class SameUser(Forbidden):
    """The proposer tried to approve their own proposal."""

    code = "maker_checker"

    def __init__(self) -> None:
        super().__init__("the person who proposed a resolution cannot approve it",
                         hint="Ask another finance officer to approve it, or withdraw it.")
        self.reason = "same_user"


class UnownedToken(Forbidden):
    """A token that belongs to no person tried to propose or approve a four-eyes action."""

    code = "maker_checker"

    def __init__(self) -> None:
        super().__init__(
            "this API token belongs to no person, so it may not propose or approve what needs "
            "two people",
            hint="Create a token for a person with `recon tokens create NAME --role ROLE "
                 "--user USERNAME`, then revoke this one (`recon tokens revoke ID`).")
        self.reason = "unowned_token"


def four_eyes_person(actor: str, person: str | None) -> str:
    """The person behind ``actor`` for maker ≠ checker: ``person`` when the caller names one
    (a user, or the owner of a token), else the actor itself when it is a user
    (``user:NAME``). A token without an owner has none: :class:`UnownedToken`."""
    if person:
        return person
    if actor.startswith("user:"):
        return actor
    raise UnownedToken()


def proposer_person(proposed_by: str | None, proposed_by_person: str | None) -> str | None:
    """The person behind a proposal (a proposal made before 0013 kept only its actor: a user
    is a person, a token there is nobody's)."""
    if proposed_by_person:
        return proposed_by_person
    if proposed_by and proposed_by.startswith("user:"):
        return proposed_by
    return None


class UnknownProposer(Forbidden):
    """A proposal whose maker is no known person (an unowned token's, from before 0013)."""

    code = "maker_checker"

    def __init__(self) -> None:
        super().__init__("nobody can tell which person made this proposal (an unowned API "
                         "token made it), so nobody can be its second pair of eyes",
                         hint="Reject it, then propose it again as a person.")
        self.reason = "unknown_proposer"


def check_second_person(proposed_by: str | None, proposed_by_person: str | None,
                        checker: str) -> None:
    """Refuse unless ``checker`` is another person than the proposal's maker."""
    maker = proposer_person(proposed_by, proposed_by_person)
    if maker is None:
        raise UnknownProposer()
    if maker == checker:
        raise SameUser()


__all__ = ["SameUser", "UnknownProposer", "UnownedToken", "check_second_person",
           "four_eyes_person", "proposer_person"]
