"""The shared action vocabulary: every action code the shipped policies recommend, and its meaning.

Case management systems map action codes to work queues, so the shipped policies use one
vocabulary (DESIGN.md). Kept in `source`, the lowest layer that reads it: the docs list it and
the translation catalogues (`vocabulary.es.yaml`) are checked against it.
"""

from __future__ import annotations

# The shared action vocabulary (DESIGN.md) plus the codes the shipped policies added.
ACTION_MEANINGS: dict[str, str] = {
    "initiate_income_withholding": "send an income withholding notice to a known employer",
    "increase_income_withholding": "add an amount for past-due support to the income withholding",
    "initiate_military_pay_withholding": "withhold support from military pay",
    "initiate_unemployment_intercept": "intercept unemployment insurance benefits",
    "send_delinquency_notice": "first letter to a parent who has fallen behind",
    "charge_interest": "interest accrues on past-due support (output: the month's interest)",
    "offer_payment_plan": "offer an alternative payment plan for past-due support",
    "refer_federal_tax_offset": "certify past-due support for federal tax refund offset",
    "refer_state_tax_offset": "certify for state tax refund (and lottery/vendor) intercept",
    "refer_state_delinquency_collection": "refer past-due support to the state's delinquent debt collection",
    "refer_financial_institution_data_match": "include the parent in the financial institution data match",
    "certify_passport_denial": "certify for passport denial",
    "docket_lien": "place the case on the (statewide) lien docket / file a lien",
    "report_to_credit_bureau": "report past-due support to consumer credit bureaus",
    "initiate_license_suspension": "start license suspension (notice, then certification)",
    "refer_for_contempt": "refer to the court for contempt",
    "request_bench_warrant": "ask the court for a bench warrant",
    "request_warrant_clearance": "ask the court to clear an outstanding warrant",
    "refer_employment_training": "refer the parent to employment and training services",
    "arrange_warm_handoff": "hand the parent over in person to employment and training services",
    "refer_job_search_assistance": "refer the parent to job search assistance",
    "refer_case_manager": "assign or refer the case to a case manager",
    "refer_legal_assistance": "refer the parent to legal assistance",
    "review_order": "review the order for modification (job loss, incarceration)",
    "apply_family_violence_safeguards": "apply the family violence safeguards (limit disclosure and some actions)",
    "eligible_back_on_track": "eligible for Milwaukee's Back on Track match (output: credit)",
    "eligible_license_release": "eligible for license release",
    "invite_license_release_meeting": "invite the parent to a license release meeting",
    "send_medical_support_notice": "send the National Medical Support Notice to the employer",
    "initiate_locate": "look for the paying parent (address, employer, income)",
    "refer_multistate_fidm": "submit the case for the multistate financial institution data match",
    "refer_administrative_offset": "submit past-due support for federal administrative offset",
    "recommend_case_closure": "consider closing the case",
    "screen_ability_to_pay": "screen the parent's ability to pay before any contempt referral",
    "refer_criminal_nonsupport": "consider a referral for criminal nonsupport",
    "levy_account": "levy the parent's financial accounts",
    "intercept_insurance_settlement": "intercept an insurance claim, settlement or workers' compensation",
    "review_birth_cost_balance": "correct a state-owed birth-cost balance",
    "verify_household_income": "verify household income before driver's license action",
    "eligible_compromise_of_arrears": "eligible to be offered a compromise of state-owed arrears",
    "pass_through_to_family": "pass the month's current support through to the family",
    "screen_good_cause": "offer a good-cause screen before reporting non-cooperation",
}
