"""The demo registry's texts in Dutch, French and German (domain/wording.py), so that the portal's
information model reads in the visitor's language.

Keyed by the English default text rather than by code: the Estonian demo country reuses some
codes with texts of its own, which these Belgian wordings would misname. Official Belgian terms
where they exist (Rijksregister / Registre national / Nationalregister, the laws' own titles).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

Entry = TypeVar("Entry")


def _t(nl: str, fr: str, de: str) -> dict[str, str]:
    return {"nl": nl, "fr": fr, "de": de}


TEXTS: dict[str, dict[str, str]] = {
    # Capacities
    "Affiliated with a health insurance fund": _t(
        "Aangesloten bij een ziekenfonds",
        "Affilié à une mutualité",
        "Einer Krankenkasse angeschlossen",
    ),
    "Registered job seeker": _t(
        "Ingeschreven werkzoekende",
        "Demandeur d'emploi inscrit",
        "Eingetragener Arbeitsuchender",
    ),
    "Child giving right to child benefit": _t(
        "Kind dat recht geeft op kinderbijslag",
        "Enfant bénéficiaire d'allocations familiales",
        "Kind, das Anrecht auf Kindergeld gibt",
    ),
    "Receives social assistance": _t(
        "Ontvangt maatschappelijke hulp",
        "Bénéficie de l'aide sociale",
        "Bezieht Sozialhilfe",
    ),
    "Examined for the automatic granting of rights": _t(
        "Onderzocht voor de automatische toekenning van rechten",
        "Examiné pour l'octroi automatique de droits",
        "Geprüft für die automatische Gewährung von Rechten",
    ),
    "The person themselves, signed in": _t(
        "De persoon zelf, aangemeld",
        "La personne elle-même, connectée",
        "Die Person selbst, angemeldet",
    ),
    # Services
    "Identity of a person": _t(
        "Identiteit van een persoon", "Identité d'une personne", "Identität einer Person"
    ),
    "From the national register.": _t(
        "Uit het Rijksregister.", "Du Registre national.", "Aus dem Nationalregister."
    ),
    "Main residence of a person": _t(
        "Hoofdverblijfplaats van een persoon",
        "Résidence principale d'une personne",
        "Hauptwohnort einer Person",
    ),
    "Periods of employment": _t(
        "Tewerkstellingsperiodes", "Périodes d'occupation", "Beschäftigungszeiträume"
    ),
    "Unemployment benefit status": _t(
        "Toestand inzake werkloosheidsuitkeringen",
        "Situation en matière d'allocations de chômage",
        "Stand der Arbeitslosenunterstützung",
    ),
    "Health insurance affiliation": _t(
        "Aansluiting bij een ziekenfonds",
        "Affiliation à une mutualité",
        "Anschluss an eine Krankenkasse",
    ),
    "Routed per person to the fund the person is affiliated with.": _t(
        "Per persoon doorgestuurd naar het ziekenfonds waarbij de persoon is aangesloten.",
        "Acheminé, pour chaque personne, vers la mutualité à laquelle elle est affiliée.",
        "Für jede Person an die Krankenkasse weitergeleitet, der sie angeschlossen ist.",
    ),
    "Child benefit entitlement": _t(
        "Recht op kinderbijslag",
        "Droit aux allocations familiales",
        "Anspruch auf Kindergeld",
    ),
    "Employment periods declared in DIMONA": _t(
        "In DIMONA aangegeven tewerkstellingsperiodes",
        "Périodes d'occupation déclarées dans la DIMONA",
        "In der DIMONA gemeldete Beschäftigungszeiträume",
    ),
    "From the declarations service: each period with its employer, worker type and dates.": _t(
        "Uit de aangiftedienst: elke periode met haar werkgever, type werknemer en data.",
        "Du service des déclarations : chaque période avec son employeur, son type de"
        " travailleur et ses dates.",
        "Aus dem Meldedienst: jeder Zeitraum mit seinem Arbeitgeber, der Art des Arbeitnehmers"
        " und den Daten.",
    ),
    "Quarterly wages and working time declared in the DmfA": _t(
        "In de DmfA aangegeven kwartaallonen en arbeidstijd",
        "Rémunérations et temps de travail trimestriels déclarés dans la DmfA",
        "In der DmfA gemeldete vierteljährliche Entlohnung und Arbeitszeit",
    ),
    "Social risks declared by employers": _t(
        "Door werkgevers aangegeven sociale risico's",
        "Risques sociaux déclarés par les employeurs",
        "Von Arbeitgebern gemeldete soziale Risiken",
    ),
    "Household composition of a person": _t(
        "Gezinssamenstelling van een persoon",
        "Composition de ménage d'une personne",
        "Haushaltszusammensetzung einer Person",
    ),
    "From the national register: who lives at the person's main residence.": _t(
        "Uit het Rijksregister: wie op de hoofdverblijfplaats van de persoon woont.",
        "Du Registre national : qui vit à la résidence principale de la personne.",
        "Aus dem Nationalregister: wer am Hauptwohnort der Person wohnt.",
    ),
    "Composition of a person's household": _t(
        "Samenstelling van het gezin van een persoon",
        "Composition du ménage d'une personne",
        "Zusammensetzung des Haushalts einer Person",
    ),
    "How many adults and children live at the person's main residence, and whether the person"
    " is one of the children.": _t(
        "Hoeveel volwassenen en kinderen op de hoofdverblijfplaats van de persoon wonen, en of"
        " de persoon een van de kinderen is.",
        "Combien d'adultes et d'enfants vivent à la résidence principale de la personne, et si"
        " la personne est l'un des enfants.",
        "Wie viele Erwachsene und Kinder am Hauptwohnort der Person wohnen und ob die Person"
        " eines der Kinder ist.",
    ),
    "Social benefits a person receives": _t(
        "Sociale uitkeringen die een persoon ontvangt",
        "Prestations sociales perçues par une personne",
        "Sozialleistungen, die eine Person bezieht",
    ),
    "Social benefits the other adults of a person's household receive": _t(
        "Sociale uitkeringen die de andere volwassenen van het gezin van een persoon ontvangen",
        "Prestations sociales perçues par les autres adultes du ménage d'une personne",
        "Sozialleistungen, die die anderen Erwachsenen des Haushalts einer Person beziehen",
    ),
    "For each other adult of the person's household, which of the integration income, the"
    " income guarantee for the elderly and a disability allowance they receive; without their"
    " identity.": _t(
        "Voor elke andere volwassene van het gezin van de persoon: welke van het leefloon, de"
        " inkomensgarantie voor ouderen en een tegemoetkoming aan personen met een handicap"
        " hij of zij ontvangt; zonder zijn of haar identiteit.",
        "Pour chaque autre adulte du ménage de la personne : lesquels du revenu d'intégration,"
        " de la garantie de revenus aux personnes âgées et d'une allocation aux personnes"
        " handicapées il ou elle perçoit ; sans son identité.",
        "Für jeden anderen Erwachsenen des Haushalts der Person: welche der Leistungen"
        " Eingliederungseinkommen, Einkommensgarantie für Betagte und Beihilfe für Personen"
        " mit Behinderung er oder sie bezieht; ohne seine oder ihre Identität.",
    ),
    "Gross taxable income of a person's household": _t(
        "Bruto belastbaar inkomen van het gezin van een persoon",
        "Revenus bruts imposables du ménage d'une personne",
        "Steuerpflichtiges Bruttoeinkommen des Haushalts einer Person",
    ),
    # Mutation types
    "Change of main residence": _t(
        "Wijziging van hoofdverblijfplaats",
        "Changement de résidence principale",
        "Änderung des Hauptwohnortes",
    ),
    "Birth of a child (about each parent)": _t(
        "Geboorte van een kind (voor elke ouder)",
        "Naissance d'un enfant (pour chaque parent)",
        "Geburt eines Kindes (für jeden Elternteil)",
    ),
    "Death": _t("Overlijden", "Décès", "Tod"),
    "Start or end of an employment": _t(
        "Begin of einde van een tewerkstelling",
        "Début ou fin d'une occupation",
        "Beginn oder Ende einer Beschäftigung",
    ),
    "An employment starts (DIMONA IN)": _t(
        "Een tewerkstelling begint (DIMONA IN)",
        "Une occupation commence (DIMONA IN)",
        "Eine Beschäftigung beginnt (DIMONA IN)",
    ),
    "An employment ends (DIMONA OUT, or an update that sets the end)": _t(
        "Een tewerkstelling eindigt (DIMONA OUT, of een wijziging die het einde vastlegt)",
        "Une occupation prend fin (DIMONA OUT, ou une modification qui en fixe la fin)",
        "Eine Beschäftigung endet (DIMONA OUT oder eine Änderung, die das Ende festlegt)",
    ),
    "An employment's dates change (DIMONA update)": _t(
        "De data van een tewerkstelling wijzigen (DIMONA UPDATE)",
        "Les dates d'une occupation changent (DIMONA UPDATE)",
        "Die Daten einer Beschäftigung ändern sich (DIMONA UPDATE)",
    ),
    "A DIMONA period is cancelled": _t(
        "Een DIMONA-periode wordt geannuleerd",
        "Une période DIMONA est annulée",
        "Ein DIMONA-Zeitraum wird annulliert",
    ),
    "A worker's wages and working time for a quarter (DmfA)": _t(
        "Het loon en de arbeidstijd van een werknemer voor een kwartaal (DmfA)",
        "La rémunération et le temps de travail d'un travailleur pour un trimestre (DmfA)",
        "Entlohnung und Arbeitszeit eines Arbeitnehmers für ein Quartal (DmfA)",
    ),
    "An employer declares a social risk (unemployment, incapacity)": _t(
        "Een werkgever geeft een sociaal risico aan (werkloosheid, arbeidsongeschiktheid)",
        "Un employeur déclare un risque social (chômage, incapacité de travail)",
        "Ein Arbeitgeber meldet ein soziales Risiko (Arbeitslosigkeit, Arbeitsunfähigkeit)",
    ),
    "Increased reimbursement: granted automatically": _t(
        "Verhoogde tegemoetkoming: automatisch toegekend",
        "Intervention majorée : octroyée automatiquement",
        "Erhöhte Kostenerstattung: automatisch gewährt",
    ),
    "Increased reimbursement: ended": _t(
        "Verhoogde tegemoetkoming: beëindigd",
        "Intervention majorée : terminée",
        "Erhöhte Kostenerstattung: beendet",
    ),
    "Social energy tariff: granted automatically": _t(
        "Sociaal tarief voor energie: automatisch toegekend",
        "Tarif social pour l'énergie : octroyé automatiquement",
        "Sozialtarif für Energie: automatisch gewährt",
    ),
    "Social energy tariff: ended": _t(
        "Sociaal tarief voor energie: beëindigd",
        "Tarif social pour l'énergie : terminé",
        "Sozialtarif für Energie: beendet",
    ),
    "Social supplement to the child benefit: granted automatically": _t(
        "Sociale toeslag bij de kinderbijslag: automatisch toegekend",
        "Supplément social aux allocations familiales : octroyé automatiquement",
        "Sozialzuschlag zum Kindergeld: automatisch gewährt",
    ),
    "Social supplement to the child benefit: ended": _t(
        "Sociale toeslag bij de kinderbijslag: beëindigd",
        "Supplément social aux allocations familiales : terminé",
        "Sozialzuschlag zum Kindergeld: beendet",
    ),
    "A social benefit starts or ends": _t(
        "Een sociale uitkering begint of eindigt",
        "Une prestation sociale commence ou prend fin",
        "Eine Sozialleistung beginnt oder endet",
    ),
    # Legal bases, with the laws' official titles in each language
    "Coordinated law of 14 July 1994 on compulsory health care insurance": _t(
        "Wet betreffende de verplichte verzekering voor geneeskundige verzorging en uitkeringen,"
        " gecoördineerd op 14 juli 1994",
        "Loi relative à l'assurance obligatoire soins de santé et indemnités, coordonnée le"
        " 14 juillet 1994",
        "Gesetz über die Gesundheitspflege- und Entschädigungspflichtversicherung, koordiniert"
        " am 14. Juli 1994",
    ),
    "Royal Decree of 25 November 1991 on unemployment": _t(
        "Koninklijk besluit van 25 november 1991 houdende de werkloosheidsreglementering",
        "Arrêté royal du 25 novembre 1991 portant réglementation du chômage",
        "Königlicher Erlass vom 25. November 1991 zur Regelung der Arbeitslosigkeit",
    ),
    "Law of 26 May 2002 on the right to social integration": _t(
        "Wet van 26 mei 2002 betreffende het recht op maatschappelijke integratie",
        "Loi du 26 mai 2002 concernant le droit à l'intégration sociale",
        "Gesetz vom 26. Mai 2002 über das Recht auf soziale Eingliederung",
    ),
    "Coordinated law of 14 July 1994 on compulsory health care insurance, art. 37, §19": _t(
        "Wet betreffende de verplichte verzekering voor geneeskundige verzorging en uitkeringen,"
        " gecoördineerd op 14 juli 1994, art. 37, §19",
        "Loi relative à l'assurance obligatoire soins de santé et indemnités, coordonnée le"
        " 14 juillet 1994, art. 37, §19",
        "Gesetz über die Gesundheitspflege- und Entschädigungspflichtversicherung, koordiniert"
        " am 14. Juli 1994, Art. 37 § 19",
    ),
    "Decree of 27 April 2018 on family benefits": _t(
        "Decreet van 27 april 2018 tot regeling van de toelagen in het kader van het gezinsbeleid",
        "Décret du 27 avril 2018 réglant les allocations dans le cadre de la politique familiale",
        "Dekret vom 27. April 2018 zur Regelung der Zulagen im Rahmen der Familienpolitik",
    ),
    "Decree of 27 April 2018 on family benefits, art. 14-16": _t(
        "Decreet van 27 april 2018 tot regeling van de toelagen in het kader van het"
        " gezinsbeleid, art. 14-16",
        "Décret du 27 avril 2018 réglant les allocations dans le cadre de la politique"
        " familiale, art. 14-16",
        "Dekret vom 27. April 2018 zur Regelung der Zulagen im Rahmen der Familienpolitik,"
        " Art. 14-16",
    ),
    "GDPR art. 15 (right of access); Law of 15 January 1990 on the CBSS, art. 10": _t(
        "AVG art. 15 (recht van inzage); Wet van 15 januari 1990 houdende oprichting en"
        " organisatie van een Kruispuntbank van de sociale zekerheid, art. 10",
        "RGPD art. 15 (droit d'accès) ; Loi du 15 janvier 1990 relative à l'institution et à"
        " l'organisation d'une Banque-carrefour de la sécurité sociale, art. 10",
        "DSGVO Art. 15 (Auskunftsrecht); Gesetz vom 15. Januar 1990 über die Errichtung und"
        " Organisation einer Zentralen Datenbank der sozialen Sicherheit, Art. 10",
    ),
    "Law of 15 January 1990 on the Crossroads Bank for Social Security, art. 11bis": _t(
        "Wet van 15 januari 1990 houdende oprichting en organisatie van een Kruispuntbank van"
        " de sociale zekerheid, art. 11bis",
        "Loi du 15 janvier 1990 relative à l'institution et à l'organisation d'une"
        " Banque-carrefour de la sécurité sociale, art. 11bis",
        "Gesetz vom 15. Januar 1990 über die Errichtung und Organisation einer Zentralen"
        " Datenbank der sozialen Sicherheit, Art. 11bis",
    ),
    "Law of 26 May 2002 on the right to social integration, art. 19": _t(
        "Wet van 26 mei 2002 betreffende het recht op maatschappelijke integratie, art. 19",
        "Loi du 26 mai 2002 concernant le droit à l'intégration sociale, art. 19",
        "Gesetz vom 26. Mai 2002 über das Recht auf soziale Eingliederung, Art. 19",
    ),
    "Law of 4 July 1962 on public statistics, art. 24quinquies (study of the labour market for"
    " the employment policy)": _t(
        "Wet van 4 juli 1962 betreffende de openbare statistiek, art. 24quinquies (studie van de"
        " arbeidsmarkt voor het werkgelegenheidsbeleid)",
        "Loi du 4 juillet 1962 relative à la statistique publique, art. 24quinquies (étude du"
        " marché du travail pour la politique de l'emploi)",
        "Gesetz vom 4. Juli 1962 über die öffentliche Statistik, Art. 24quinquies (Untersuchung"
        " des Arbeitsmarktes für die Beschäftigungspolitik)",
    ),
    "Royal Decree of 25 November 1991, art. 138": _t(
        "Koninklijk besluit van 25 november 1991 houdende de werkloosheidsreglementering, art. 138",
        "Arrêté royal du 25 novembre 1991 portant réglementation du chômage, art. 138",
        "Königlicher Erlass vom 25. November 1991 zur Regelung der Arbeitslosigkeit, Art. 138",
    ),
}

# Which of an entry's texts have wordings: a service's and a mutation type's name and
# description, a capacity's name, an authorization's and an integration right's legal basis.
_FIELDS = ("name", "description", "legal_basis")


def worded(entry: Entry) -> Entry:
    """`entry` with the Dutch, French and German wordings of those of its texts TEXTS holds."""
    changes = {
        f"{name}_translations": TEXTS[getattr(entry, name)]
        for name in _FIELDS
        if hasattr(entry, f"{name}_translations") and getattr(entry, name) in TEXTS
    }
    return replace(entry, **changes) if changes else entry  # type: ignore[type-var]
