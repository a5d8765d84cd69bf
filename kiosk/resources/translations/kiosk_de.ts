<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="de_DE" sourcelanguage="en">
<context>
    <name>AuthorizingPage</name>
    <message>
        <source>Contacting your bank…</source>
        <translation>Verbindung zu Ihrer Bank…</translation>
    </message>
    <message>
        <source>Reserving {amount} on your card. This usually takes a few seconds. If you inserted your card, please leave it in.</source>
        <translation>{amount} werden auf Ihrer Karte reserviert. Das dauert meist nur wenige Sekunden. Wenn Sie Ihre Karte eingesteckt haben, lassen Sie sie bitte stecken.</translation>
    </message>
    <message>
        <source>Waiting for your bank</source>
        <translation>Warten auf Ihre Bank</translation>
    </message>
</context>
<context>
    <name>CardPage</name>
    <message>
        <source>This amount is reserved on your card.
You pay only for the energy you charge.</source>
        <translation>Dieser Betrag wird auf Ihrer Karte reserviert.
Sie zahlen nur die geladene Energie.</translation>
    </message>
    <message>
        <source>Contactless cards, phones and watches: tap and hold until you hear the beep. Chip cards: insert the card and leave it in until asked to remove it.</source>
        <translation>Kontaktlose Karten, Handys und Uhren: an das Lesegerät halten, bis es piept. Chipkarten: einstecken und stecken lassen, bis Sie aufgefordert werden, die Karte zu entnehmen.</translation>
    </message>
    <message>
        <source>Your card is checking the PIN. Please leave it in the reader.</source>
        <translation>Ihre Karte prüft die PIN. Bitte lassen Sie sie im Lesegerät.</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Abbrechen</translation>
    </message>
    <message>
        <source>Demo: tap a test card</source>
        <translation>Demo: Testkarte antippen</translation>
    </message>
    <message>
        <source>Checking your PIN…</source>
        <translation>PIN wird geprüft…</translation>
    </message>
    <message>
        <source>Hold your card near the reader or insert it</source>
        <translation>Karte an das Lesegerät halten oder einstecken</translation>
    </message>
</context>
<context>
    <name>ChargingPage</name>
    <message>
        <source>Cost so far</source>
        <translation>Bisherige Kosten</translation>
    </message>
    <message>
        <source>Energy</source>
        <translation>Energie</translation>
    </message>
    <message>
        <source>Charging time</source>
        <translation>Ladezeit</translation>
    </message>
    <message>
        <source>Power</source>
        <translation>Leistung</translation>
    </message>
    <message>
        <source>To stop, tap the same card again or press Stop charging</source>
        <translation>Zum Beenden dieselbe Karte erneut vorhalten oder „Laden beenden“ drücken</translation>
    </message>
    <message>
        <source>Stop charging</source>
        <translation>Laden beenden</translation>
    </message>
    <message>
        <source>Demo: tap the same card</source>
        <translation>Demo: dieselbe Karte</translation>
    </message>
    <message>
        <source>Demo: another card</source>
        <translation>Demo: andere Karte</translation>
    </message>
    <message>
        <source>Stopping the charger and completing your payment. Please wait.</source>
        <translation>Das Laden wird beendet und Ihre Zahlung abgeschlossen. Bitte warten.</translation>
    </message>
    <message>
        <source>Reserved on your card: {held} ({left} left)</source>
        <translation>Auf Ihrer Karte reserviert: {held} (noch {left} übrig)</translation>
    </message>
    <message>
        <source>Finishing…</source>
        <translation>Wird beendet…</translation>
    </message>
    <message>
        <source>Charging</source>
        <translation>Ladevorgang</translation>
    </message>
    <message>
        <source>This is not the card that started this charge.</source>
        <translation>Das ist nicht die Karte, mit der dieser Ladevorgang gestartet wurde.</translation>
    </message>
</context>
<context>
    <name>DriverText</name>
    <message>
        <source>Card cannot be read</source>
        <translation>Karte nicht lesbar</translation>
    </message>
    <message>
        <source>Card not accepted</source>
        <translation>Karte nicht akzeptiert</translation>
    </message>
    <message>
        <source>Card blocked</source>
        <translation>Karte gesperrt</translation>
    </message>
    <message>
        <source>Please insert your card</source>
        <translation>Bitte Karte einstecken</translation>
    </message>
    <message>
        <source>Card removed too early</source>
        <translation>Karte zu früh entnommen</translation>
    </message>
    <message>
        <source>No card</source>
        <translation>Keine Karte</translation>
    </message>
    <message>
        <source>Card reader not available</source>
        <translation>Kartenlesegerät nicht verfügbar</translation>
    </message>
    <message>
        <source>Wrong PIN</source>
        <translation>Falsche PIN</translation>
    </message>
    <message>
        <source>Last try</source>
        <translation>Letzter Versuch</translation>
    </message>
    <message>
        <source>PIN blocked</source>
        <translation>PIN gesperrt</translation>
    </message>
    <message>
        <source>No PIN entered</source>
        <translation>Keine PIN eingegeben</translation>
    </message>
    <message>
        <source>Payment declined</source>
        <translation>Zahlung abgelehnt</translation>
    </message>
    <message>
        <source>Card expired</source>
        <translation>Karte abgelaufen</translation>
    </message>
    <message>
        <source>Payment not possible</source>
        <translation>Zahlung nicht möglich</translation>
    </message>
    <message>
        <source>Charging cancelled</source>
        <translation>Ladevorgang abgebrochen</translation>
    </message>
    <message>
        <source>No car connected</source>
        <translation>Kein Auto angeschlossen</translation>
    </message>
    <message>
        <source>No energy delivered</source>
        <translation>Keine Energie geladen</translation>
    </message>
    <message>
        <source>Nothing to pay</source>
        <translation>Nichts zu bezahlen</translation>
    </message>
    <message>
        <source>Charger fault</source>
        <translation>Störung am Ladepunkt</translation>
    </message>
    <message>
        <source>Charging stopped</source>
        <translation>Laden beendet</translation>
    </message>
    <message>
        <source>Charger not answering</source>
        <translation>Ladepunkt antwortet nicht</translation>
    </message>
    <message>
        <source>Terminal restarted</source>
        <translation>Terminal neu gestartet</translation>
    </message>
    <message>
        <source>This card cannot be read. Please try another card. Your card has not been charged.</source>
        <translation>Diese Karte kann nicht gelesen werden. Bitte versuchen Sie eine andere Karte. Ihre Karte wurde nicht belastet.</translation>
    </message>
    <message>
        <source>This card cannot be used at this charger. Please try another card. Your card has not been charged.</source>
        <translation>Diese Karte kann an diesem Ladepunkt nicht verwendet werden. Bitte versuchen Sie eine andere Karte. Ihre Karte wurde nicht belastet.</translation>
    </message>
    <message>
        <source>This card is blocked. Please try another card or contact your bank. Your card has not been charged.</source>
        <translation>Diese Karte ist gesperrt. Bitte versuchen Sie eine andere Karte oder wenden Sie sich an Ihre Bank. Ihre Karte wurde nicht belastet.</translation>
    </message>
    <message>
        <source>This card cannot be used contactless here. Please start again and insert it into the card reader. Your card has not been charged.</source>
        <translation>Diese Karte kann hier nicht kontaktlos verwendet werden. Bitte beginnen Sie von vorn und stecken Sie die Karte in das Lesegerät. Ihre Karte wurde nicht belastet.</translation>
    </message>
    <message>
        <source>The card was removed before the payment was complete. Please start again and leave your card in place until you are asked to take it. Your card has not been charged.</source>
        <translation>Die Karte wurde entnommen, bevor die Zahlung abgeschlossen war. Bitte beginnen Sie von vorn und lassen Sie die Karte stecken, bis Sie aufgefordert werden, sie zu entnehmen. Ihre Karte wurde nicht belastet.</translation>
    </message>
    <message>
        <source>No card was presented in time. Please start again. Your card has not been charged.</source>
        <translation>Es wurde nicht rechtzeitig eine Karte vorgehalten oder eingesteckt. Bitte beginnen Sie von vorn. Ihre Karte wurde nicht belastet.</translation>
    </message>
    <message>
        <source>The card reader is not working right now. Please try again later. Your card has not been charged.</source>
        <translation>Das Kartenlesegerät funktioniert gerade nicht. Bitte versuchen Sie es später noch einmal. Ihre Karte wurde nicht belastet.</translation>
    </message>
    <message>
        <source>Last try before your PIN is blocked.</source>
        <translation>Letzter Versuch, bevor Ihre PIN gesperrt wird.</translation>
    </message>
    <message>
        <source>Wrong PIN. Last try before your PIN is blocked.</source>
        <translation>Falsche PIN. Letzter Versuch, bevor Ihre PIN gesperrt wird.</translation>
    </message>
    <message>
        <source>Too many wrong PINs: your PIN is blocked. Please contact your bank. Your card has not been charged.</source>
        <translation>Zu oft falsche PIN: Ihre PIN ist gesperrt. Bitte wenden Sie sich an Ihre Bank. Ihre Karte wurde nicht belastet.</translation>
    </message>
    <message>
        <source>No PIN was entered in time. Please start again. Your card has not been charged.</source>
        <translation>Die PIN wurde nicht rechtzeitig eingegeben. Bitte beginnen Sie von vorn. Ihre Karte wurde nicht belastet.</translation>
    </message>
    <message>
        <source>The PIN was wrong. Please start again and enter your PIN. Your card has not been charged.</source>
        <translation>Die PIN war falsch. Bitte beginnen Sie von vorn und geben Sie Ihre PIN ein. Ihre Karte wurde nicht belastet.</translation>
    </message>
    <message>
        <source>The payment was declined. Please try another card. Your card has not been charged.</source>
        <translation>Die Zahlung wurde abgelehnt. Bitte versuchen Sie eine andere Karte. Ihre Karte wurde nicht belastet.</translation>
    </message>
    <message>
        <source>Your bank declined the payment. Please try another card or contact your bank. Your card has not been charged.</source>
        <translation>Ihre Bank hat die Zahlung abgelehnt. Bitte versuchen Sie eine andere Karte oder wenden Sie sich an Ihre Bank. Ihre Karte wurde nicht belastet.</translation>
    </message>
    <message>
        <source>Your card declined the payment. Please try another card. Your card has not been charged.</source>
        <translation>Ihre Karte hat die Zahlung abgelehnt. Bitte versuchen Sie eine andere Karte. Ihre Karte wurde nicht belastet.</translation>
    </message>
    <message>
        <source>Your bank declined the payment: not enough funds. Please try another card. Your card has not been charged.</source>
        <translation>Ihre Bank hat die Zahlung abgelehnt: nicht genügend Guthaben. Bitte versuchen Sie eine andere Karte. Ihre Karte wurde nicht belastet.</translation>
    </message>
    <message>
        <source>The amount is above a limit of your card. Please insert your card and use your PIN, or try another card. Your card has not been charged.</source>
        <translation>Der Betrag liegt über einem Limit Ihrer Karte. Bitte stecken Sie Ihre Karte ein und geben Sie Ihre PIN ein, oder versuchen Sie eine andere Karte. Ihre Karte wurde nicht belastet.</translation>
    </message>
    <message>
        <source>This card has expired. Please try another card. Your card has not been charged.</source>
        <translation>Diese Karte ist abgelaufen. Bitte versuchen Sie eine andere Karte. Ihre Karte wurde nicht belastet.</translation>
    </message>
    <message>
        <source>The payment service cannot be reached right now. Please try again later. Your card has not been charged.</source>
        <translation>Der Zahlungsdienst ist gerade nicht erreichbar. Bitte versuchen Sie es später noch einmal. Ihre Karte wurde nicht belastet.</translation>
    </message>
    <message>
        <source>The payment service did not answer. Please try again later. Your card has not been charged.</source>
        <translation>Der Zahlungsdienst hat nicht geantwortet. Bitte versuchen Sie es später noch einmal. Ihre Karte wurde nicht belastet.</translation>
    </message>
    <message>
        <source>The payment could not be completed. Please try again. Your card has not been charged.</source>
        <translation>Die Zahlung konnte nicht abgeschlossen werden. Bitte versuchen Sie es noch einmal. Ihre Karte wurde nicht belastet.</translation>
    </message>
    <message>
        <source>Charging was cancelled. Your card has not been charged.</source>
        <translation>Der Ladevorgang wurde abgebrochen. Ihre Karte wurde nicht belastet.</translation>
    </message>
    <message>
        <source>No car was connected in time. Your card has not been charged. Please start again when your car is ready.</source>
        <translation>Es wurde nicht rechtzeitig ein Auto angeschlossen. Ihre Karte wurde nicht belastet. Bitte beginnen Sie von vorn, wenn Ihr Auto bereit ist.</translation>
    </message>
    <message>
        <source>No energy was delivered. Your card has not been charged.</source>
        <translation>Es wurde keine Energie geladen. Ihre Karte wurde nicht belastet.</translation>
    </message>
    <message>
        <source>The energy delivered costs nothing. Your card has not been charged.</source>
        <translation>Die geladene Energie ist kostenlos. Ihre Karte wurde nicht belastet.</translation>
    </message>
    <message>
        <source>The charger reported a fault, so charging could not start. Please use another charger or try again later. Your card has not been charged.</source>
        <translation>Der Ladepunkt hat eine Störung gemeldet, daher konnte das Laden nicht starten. Bitte nutzen Sie einen anderen Ladepunkt oder versuchen Sie es später noch einmal. Ihre Karte wurde nicht belastet.</translation>
    </message>
    <message>
        <source>The charger reported a fault and charging stopped. You pay only for the energy delivered.</source>
        <translation>Der Ladepunkt hat eine Störung gemeldet und das Laden wurde beendet. Sie zahlen nur die geladene Energie.</translation>
    </message>
    <message>
        <source>The charger does not answer. Charging stops if it does not come back soon.</source>
        <translation>Der Ladepunkt antwortet nicht. Das Laden wird beendet, wenn er nicht bald wieder reagiert.</translation>
    </message>
    <message>
        <source>The terminal restarted during your payment. Please start again. Your card has not been charged.</source>
        <translation>Das Terminal wurde während Ihrer Zahlung neu gestartet. Bitte beginnen Sie von vorn. Ihre Karte wurde nicht belastet.</translation>
    </message>
    <message>
        <source>The terminal restarted before charging began. Please start again. Your card has not been charged.</source>
        <translation>Das Terminal wurde neu gestartet, bevor das Laden begann. Bitte beginnen Sie von vorn. Ihre Karte wurde nicht belastet.</translation>
    </message>
    <message>
        <source>Your bank did not allow a larger amount to be reserved, so charging stopped. You pay only for the energy delivered.</source>
        <translation>Ihre Bank hat keine höhere Reservierung erlaubt, daher wurde das Laden beendet. Sie zahlen nur die geladene Energie.</translation>
    </message>
    <message>
        <source>The amount reserved on your card is used up, so charging stopped. You pay only for the energy delivered.</source>
        <translation>Der auf Ihrer Karte reservierte Betrag ist aufgebraucht, daher wurde das Laden beendet. Sie zahlen nur die geladene Energie.</translation>
    </message>
    <message>
        <source>Wrong PIN. Please enter it again. Tries left: {n}.</source>
        <translation>Falsche PIN. Bitte geben Sie sie erneut ein. Verbleibende Versuche: {n}.</translation>
    </message>
    <message>
        <source>Wrong PIN. Please enter it again.</source>
        <translation>Falsche PIN. Bitte geben Sie sie erneut ein.</translation>
    </message>
</context>
<context>
    <name>IdlePage</name>
    <message>
        <source>Charge your car, pay by card</source>
        <translation>Auto laden, mit Karte bezahlen</translation>
    </message>
    <message>
        <source>1  Tap Start   ·   2  Tap or insert your card   ·   3  Plug in your car   ·   4  To stop, tap the same card</source>
        <translation>1  Start   ·   2  Karte vorhalten oder einstecken   ·   3  Auto anschließen   ·   4  Dieselbe Karte beendet</translation>
    </message>
    <message>
        <source>Start charging — pay by card</source>
        <translation>Laden starten — mit Karte zahlen</translation>
    </message>
    <message>
        <source>No price is set for this time.</source>
        <translation>Für diese Zeit ist kein Preis hinterlegt.</translation>
    </message>
    <message>
        <source>Charging is not available.</source>
        <translation>Laden ist nicht möglich.</translation>
    </message>
    <message>
        <source>Connector {label}</source>
        <translation>Ladepunkt {label}</translation>
    </message>
    <message>
        <source>Free — tap to start</source>
        <translation>Frei — hier starten</translation>
    </message>
    <message>
        <source>Paying</source>
        <translation>Zahlung läuft</translation>
    </message>
    <message>
        <source>Waiting for the car</source>
        <translation>Wartet auf das Auto</translation>
    </message>
    <message>
        <source>Charging — tap to view</source>
        <translation>Lädt — hier ansehen</translation>
    </message>
    <message>
        <source>Finishing</source>
        <translation>Wird beendet</translation>
    </message>
    <message>
        <source>Receipt</source>
        <translation>Beleg</translation>
    </message>
    <message>
        <source>In use</source>
        <translation>Belegt</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>Accessibility mode on.</source>
        <translation>Barrierefreier Modus an.</translation>
    </message>
    <message>
        <source>This screen ends in {left}. Do you need more time?</source>
        <translation>Diese Anzeige endet in {left}. Brauchen Sie mehr Zeit?</translation>
    </message>
    <message>
        <source>This screen ends in {left}.</source>
        <translation>Diese Anzeige endet in {left}.</translation>
    </message>
    <message>
        <source>⚠ LAB MODE: payment data is not encrypted</source>
        <translation>⚠ LABORMODUS: Zahlungsdaten sind nicht verschlüsselt</translation>
    </message>
    <message>
        <source>Accessibility: high contrast, large text and spoken prompts</source>
        <translation>Barrierefreiheit: hoher Kontrast, große Schrift und Sprachausgabe</translation>
    </message>
    <message>
        <source>More time</source>
        <translation>Mehr Zeit</translation>
    </message>
    <message>
        <source>All connectors</source>
        <translation>Alle Ladepunkte</translation>
    </message>
    <message>
        <source>The card reader is busy with another driver. Please try again in a moment.</source>
        <translation>Das Kartenlesegerät wird gerade von jemand anderem benutzt. Bitte versuchen Sie es gleich noch einmal.</translation>
    </message>
    <message>
        <source>All charging points are in use right now. Please try again in a moment.</source>
        <translation>Alle Ladepunkte sind gerade belegt. Bitte versuchen Sie es gleich noch einmal.</translation>
    </message>
</context>
<context>
    <name>Member</name>
    <message>
        <source>{plan}: {percent} off</source>
        <translation>{plan}: {percent} Rabatt</translation>
    </message>
    <message>
        <source>Your price: {prices}</source>
        <translation>Ihr Preis: {prices}</translation>
    </message>
</context>
<context>
    <name>MessagePage</name>
    <message>
        <source>OK</source>
        <translation>OK</translation>
    </message>
    <message>
        <source>Payment declined</source>
        <translation>Zahlung abgelehnt</translation>
    </message>
    <message>
        <source>Charging cancelled</source>
        <translation>Ladevorgang abgebrochen</translation>
    </message>
    <message>
        <source>Charging not possible</source>
        <translation>Laden nicht möglich</translation>
    </message>
</context>
<context>
    <name>OutOfServicePage</name>
    <message>
        <source>Out of service</source>
        <translation>Außer Betrieb</translation>
    </message>
    <message>
        <source>This charging point cannot take payments right now.</source>
        <translation>An diesem Ladepunkt ist gerade keine Zahlung möglich.</translation>
    </message>
    <message>
        <source>The terminal is being checked.</source>
        <translation>Das Terminal wird geprüft.</translation>
    </message>
    <message>
        <source>Questions? Call {phone}</source>
        <translation>Fragen? Rufen Sie {phone} an</translation>
    </message>
    <message>
        <source>This charging point is back in service by itself as soon as the problem is fixed.</source>
        <translation>Dieser Ladepunkt ist von selbst wieder verfügbar, sobald das Problem behoben ist.</translation>
    </message>
    <message>
        <source>The terminal cannot store payments right now.</source>
        <translation>Das Terminal kann gerade keine Zahlungen speichern.</translation>
    </message>
    <message>
        <source>The terminal&apos;s storage is nearly full.</source>
        <translation>Der Speicher des Terminals ist fast voll.</translation>
    </message>
    <message>
        <source>The charger does not answer.</source>
        <translation>Die Ladestation antwortet nicht.</translation>
    </message>
    <message>
        <source>The card reader is not available right now.</source>
        <translation>Das Kartenlesegerät ist gerade nicht verfügbar.</translation>
    </message>
    <message>
        <source>The payment service cannot be reached.</source>
        <translation>Der Zahlungsdienst ist nicht erreichbar.</translation>
    </message>
    <message>
        <source>This charging station is being serviced.</source>
        <translation>Diese Ladestation wird gerade gewartet.</translation>
    </message>
    <message>
        <source>This charging station has been taken out of service.</source>
        <translation>Diese Ladestation ist außer Betrieb genommen.</translation>
    </message>
    <message>
        <source>A part of the terminal is being checked.</source>
        <translation>Ein Teil des Terminals wird gerade geprüft.</translation>
    </message>
    <message>
        <source>Station {id}</source>
        <translation>Station {id}</translation>
    </message>
</context>
<context>
    <name>PinPage</name>
    <message>
        <source>Enter your PIN</source>
        <translation>Bitte PIN eingeben</translation>
    </message>
    <message>
        <source>Shield the keypad with your hand. Press OK when done.</source>
        <translation>Verdecken Sie das Tastenfeld mit der Hand. Drücken Sie dann OK.</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Abbrechen</translation>
    </message>
    <message>
        <source>Clear</source>
        <translation>Löschen</translation>
    </message>
    <message>
        <source>OK, send the PIN</source>
        <translation>OK, PIN bestätigen</translation>
    </message>
    <message>
        <source>PIN digits entered: {n}</source>
        <translation>Eingegebene PIN-Ziffern: {n}</translation>
    </message>
    <message>
        <source>Card {pan}</source>
        <translation>Karte {pan}</translation>
    </message>
</context>
<context>
    <name>PlugPage</name>
    <message>
        <source>Approved. Plug in your car.</source>
        <translation>Freigegeben. Bitte schließen Sie Ihr Auto an.</translation>
    </message>
    <message>
        <source>If your card is in the reader, take it now.</source>
        <translation>Steckt Ihre Karte im Lesegerät, nehmen Sie sie jetzt heraus.</translation>
    </message>
    <message>
        <source>Charging starts by itself as soon as the car is connected. If no car is connected in time, the reservation on your card is released.</source>
        <translation>Das Laden startet automatisch, sobald das Auto angeschlossen ist. Wird nicht rechtzeitig ein Auto angeschlossen, wird die Reservierung auf Ihrer Karte aufgehoben.</translation>
    </message>
    <message>
        <source>Demo: plug the car in</source>
        <translation>Demo: Auto anschließen</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Abbrechen</translation>
    </message>
    <message>
        <source>{amount} is reserved on your card. Use connector {label}.</source>
        <translation>{amount} sind auf Ihrer Karte reserviert. Nutzen Sie Ladepunkt {label}.</translation>
    </message>
    <message>
        <source>Time left to plug in: {left}</source>
        <translation>Zeit zum Anschließen: {left}</translation>
    </message>
</context>
<context>
    <name>ReceiptPage</name>
    <message>
        <source>Thank you! You can unplug your car.</source>
        <translation>Danke! Sie können das Ladekabel jetzt abziehen.</translation>
    </message>
    <message>
        <source>Scan for your invoice</source>
        <translation>Code scannen für Ihre Rechnung</translation>
    </message>
    <message>
        <source>Invoice</source>
        <translation>Rechnung</translation>
    </message>
    <message>
        <source>Energy</source>
        <translation>Energie</translation>
    </message>
    <message>
        <source>Charging time</source>
        <translation>Ladezeit</translation>
    </message>
    <message>
        <source>Card</source>
        <translation>Karte</translation>
    </message>
    <message>
        <source>Authorization</source>
        <translation>Autorisierung</translation>
    </message>
    <message>
        <source>Station</source>
        <translation>Station</translation>
    </message>
    <message>
        <source>Done</source>
        <translation>Fertig</translation>
    </message>
    <message>
        <source>QR code of your invoice</source>
        <translation>QR-Code Ihrer Rechnung</translation>
    </message>
    <message>
        <source>incl. {vat} VAT</source>
        <translation>inkl. {vat} MwSt.</translation>
    </message>
    <message>
        <source>VAT included</source>
        <translation>inkl. MwSt.</translation>
    </message>
    <message>
        <source>This screen closes by itself in {left}</source>
        <translation>Diese Anzeige schließt sich in {left}</translation>
    </message>
    <message>
        <source>Payment pending: your card will be charged {amount} once your bank confirms.</source>
        <translation>Zahlung ausstehend: {amount} werden von Ihrer Karte abgebucht, sobald Ihre Bank bestätigt.</translation>
    </message>
    <message>
        <source>Paid: your card has been charged {amount}.</source>
        <translation>Bezahlt: {amount} wurden von Ihrer Karte abgebucht.</translation>
    </message>
    <message>
        <source>Total</source>
        <translation>Gesamt</translation>
    </message>
    <message>
        <source>Total paid</source>
        <translation>Gesamt bezahlt</translation>
    </message>
</context>
</TS>
