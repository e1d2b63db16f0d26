from django.db import models
from django.utils.translation import gettext_lazy as _


class VisitPurpose(models.TextChoices):
    """Why a case is visited (the seed: collect; gather information; 协查; evidence)."""

    COLLECT = "collect", _("Collect (催收)")
    INVESTIGATE = "investigate", _("Anti-fraud investigation (协查)")
    EVIDENCE = "evidence", _("Evidence for litigation (诉讼取证)")


class IssueStatus(models.TextChoices):
    """A batch of visit cases the risk department issues to a team lead."""

    ISSUED = "issued", _("Issued (已下发)")
    CONFIRMED = "confirmed", _("Confirmed (已核对)")
    MISMATCH = "mismatch", _("Count or amount differs (数量/金额不符)")


class VisitCaseStatus(models.TextChoices):
    ISSUED = "issued", _("Issued (待核对)")
    CONFIRMED = "confirmed", _("Confirmed (待分配)")
    ALLOCATED = "allocated", _("Allocated to a team (已分配)")
    PLANNED = "planned", _("On a route (已排线)")
    VISITED = "visited", _("Visited (已外访)")
    SPECIAL = "special", _("Back to the risk department for special staff (退回风控专人协催)")
    LETTER = "letter", _("Sent a letter instead (改为信函)")
    WITHDRAWN = "withdrawn", _("Withdrawn (撤回)")


OPEN_VISIT_CASE = (
    VisitCaseStatus.ISSUED,
    VisitCaseStatus.CONFIRMED,
    VisitCaseStatus.ALLOCATED,
    VisitCaseStatus.PLANNED,
)


class TravelMode(models.TextChoices):
    """How a team moves between stops: public transport or on foot, never unlicensed
    cabs (黑车, 摩的) — there is no such choice."""

    PUBLIC_TRANSPORT = "transit", _("Public transport (公共交通)")
    WALKING = "walking", _("Walking (步行)")


class RouteStatus(models.TextChoices):
    DRAFT = "draft", _("Draft (草稿)")
    SUBMITTED = "submitted", _("Submitted for approval (待审批)")
    APPROVED = "approved", _("Approved (已批准)")
    REJECTED = "rejected", _("Rejected (已驳回)")
    DEPARTED = "departed", _("Out on the route (外访中)")
    RETURNED = "returned", _("Returned (已返回)")
    REPORTED = "reported", _("Report submitted (已提交报告)")


ROUTE_MOVES: dict[str, tuple[str, ...]] = {
    RouteStatus.DRAFT: (RouteStatus.SUBMITTED,),
    RouteStatus.SUBMITTED: (RouteStatus.APPROVED, RouteStatus.REJECTED),
    RouteStatus.REJECTED: (RouteStatus.DRAFT,),
    RouteStatus.APPROVED: (RouteStatus.DEPARTED, RouteStatus.DRAFT),
    RouteStatus.DEPARTED: (RouteStatus.RETURNED,),
    RouteStatus.RETURNED: (RouteStatus.REPORTED,),
    RouteStatus.REPORTED: (),
}


class ChangeStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested (待批准)")
    ACCEPTED = "accepted", _("Accepted (已同意)")
    REFUSED = "refused", _("Refused (已拒绝)")


class ChangeKind(models.TextChoices):
    REORDER = "reorder", _("Change the order of stops (调整顺序)")
    SKIP = "skip", _("Leave a stop out (取消一站)")
    ADDRESS = "address", _("Visit another address of the case (更换地址)")


class EquipmentKind(models.TextChoices):
    """The seed's seven items a visitor carries
    (工作证、手机、身份证、介绍信、相机、录音笔、个案材料)."""

    BADGE = "badge", _("Work badge (工作证)")
    PHONE = "phone", _("Work phone (手机)")
    ID_CARD = "id_card", _("ID card (身份证)")
    INTRODUCTION = "introduction", _("Letter of introduction (介绍信)")
    CAMERA = "camera", _("Camera (相机)")
    RECORDER = "recorder", _("Recorder (录音笔)")
    CASE_MATERIALS = "materials", _("Case materials (个案材料)")


# Handed out by the risk manager and handed back on return (the seed's 领取 / 交还).
ISSUED_EQUIPMENT = (
    EquipmentKind.BADGE,
    EquipmentKind.INTRODUCTION,
    EquipmentKind.CAMERA,
    EquipmentKind.RECORDER,
    EquipmentKind.CASE_MATERIALS,
)


class StopStatus(models.TextChoices):
    PLANNED = "planned", _("Planned (待访)")
    ARRIVED = "arrived", _("Arrived (已到达)")
    DONE = "done", _("Done (已完成)")
    SKIPPED = "skipped", _("Left out by an approved change (已取消)")


class StopOutcome(models.TextChoices):
    DEBTOR_MET = "debtor_met", _("Debtor met (见到本人)")
    RELATED_MET = "related_met", _("Related person met (见到关系人)")
    NOBODY_HOME = "nobody_home", _("Nobody home (无人应门)")
    ADDRESS_INVALID = "address_invalid", _("Address invalid (地址无效)")
    MOVED = "moved", _("Moved away (已搬离)")


class FraudFinding(models.TextChoices):
    """What a 协查 visit found."""

    CONFIRMED = "confirmed", _("Details confirmed, no sign of fraud (信息属实)")
    SUSPECTED = "suspected", _("Suspected fraud (疑似欺诈)")
    IDENTITY_FALSE = "identity_false", _("Identity or address false (身份/地址不实)")
    UNDETERMINED = "undetermined", _("Could not determine (无法确认)")


class EvidenceKind(models.TextChoices):
    DOOR_PHOTO = "door_photo", _("Door number with the other visitor (门牌号合影)")
    NEAREST_DOOR_PHOTO = "nearest_door", _("Nearest door number (最近门牌号)")
    SEAL_PHOTO = "seal_photo", _("Seal or court notice found (查封文件)")
    NOTICE_PHOTO = "notice_photo", _("Other collectors' notices found (他司催收函)")
    PHOTO = "photo", _("Other photo (其他照片)")
    RECORDING = "recording", _("Recording of the stop (外访录音)")
    RECEIPT = "receipt", _("Signed receipt (签收回执)")
    REPORT = "report", _("Visit report (外访报告)")
    SIGNATURE = "signature", _("Signature (签字)")


PHOTO_KINDS = (
    EvidenceKind.DOOR_PHOTO,
    EvidenceKind.NEAREST_DOOR_PHOTO,
    EvidenceKind.SEAL_PHOTO,
    EvidenceKind.NOTICE_PHOTO,
    EvidenceKind.PHOTO,
)


class EvidenceFlag(models.TextChoices):
    """What the checks saw in an item and did not hide."""

    NO_CAPTURE_TIME = "no_capture_time", _("The file carries no capture time")
    CAPTURE_TIME_OFF = "capture_time_off", _("Capture time far from the stop")
    NO_FILE_LOCATION = "no_file_location", _("The file carries no location")
    FILE_LOCATION_FAR = "file_location_far", _("The file's location is far from the address")
    PHONE_LOCATION_FAR = "phone_location_far", _("The phone was far from the address")
    RECORDING_GAP = "recording_gap", _("The recording has a gap")
    RECORDING_SHORT = "recording_short", _("The recording is shorter than the stop")
    RECORDING_NOT_COVERING = (
        "recording_not_covering",
        _("The recording does not cover arrival to departure"),
    )
