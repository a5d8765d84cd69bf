<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="nl_NL" sourcelanguage="en">
<context>
    <name>AuthorizingPage</name>
    <message>
        <source>Contacting your bank…</source>
        <translation>Contact met uw bank…</translation>
    </message>
    <message>
        <source>Reserving {amount} on your card. This usually takes a few seconds. If you inserted your card, please leave it in.</source>
        <translation>{amount} wordt op uw kaart gereserveerd. Dit duurt meestal een paar seconden. Hebt u uw kaart ingestoken, laat hem dan zitten.</translation>
    </message>
    <message>
        <source>Waiting for your bank</source>
        <translation>Wachten op uw bank</translation>
    </message>
</context>
<context>
    <name>CardPage</name>
    <message>
        <source>This amount is reserved on your card.
You pay only for the energy you charge.</source>
        <translation>Dit bedrag wordt op uw kaart gereserveerd.
U betaalt alleen de geladen energie.</translation>
    </message>
    <message>
        <source>Contactless cards, phones and watches: tap and hold until you hear the beep. Chip cards: insert the card and leave it in until asked to remove it.</source>
        <translation>Contactloze kaarten, telefoons en horloges: houd ze tegen de lezer tot u een piep hoort. Chipkaarten: steek de kaart in en laat hem zitten tot u wordt gevraagd hem te verwijderen.</translation>
    </message>
    <message>
        <source>Your card is checking the PIN. Please leave it in the reader.</source>
        <translation>Uw kaart controleert de pincode. Laat de kaart in de lezer zitten.</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Annuleren</translation>
    </message>
    <message>
        <source>Demo: tap a test card</source>
        <translation>Demo: tik op een testkaart</translation>
    </message>
    <message>
        <source>Checking your PIN…</source>
        <translation>Pincode wordt gecontroleerd…</translation>
    </message>
    <message>
        <source>Hold your card near the reader or insert it</source>
        <translation>Houd uw kaart tegen de lezer of steek hem in</translation>
    </message>
</context>
<context>
    <name>ChargingPage</name>
    <message>
        <source>Cost so far</source>
        <translation>Kosten tot nu</translation>
    </message>
    <message>
        <source>Energy</source>
        <translation>Energie</translation>
    </message>
    <message>
        <source>Charging time</source>
        <translation>Laadtijd</translation>
    </message>
    <message>
        <source>Power</source>
        <translation>Vermogen</translation>
    </message>
    <message>
        <source>To stop, tap the same card again or press Stop charging</source>
        <translation>Om te stoppen: houd dezelfde kaart er weer bij of druk op Laden stoppen</translation>
    </message>
    <message>
        <source>Stop charging</source>
        <translation>Laden stoppen</translation>
    </message>
    <message>
        <source>Demo: tap the same card</source>
        <translation>Demo: zelfde kaart</translation>
    </message>
    <message>
        <source>Demo: another card</source>
        <translation>Demo: andere kaart</translation>
    </message>
    <message>
        <source>Stopping the charger and completing your payment. Please wait.</source>
        <translation>Het laden wordt gestopt en uw betaling afgerond. Even geduld.</translation>
    </message>
    <message>
        <source>Reserved on your card: {held} ({left} left)</source>
        <translation>Gereserveerd op uw kaart: {held} (nog {left} over)</translation>
    </message>
    <message>
        <source>Finishing…</source>
        <translation>Afronden…</translation>
    </message>
    <message>
        <source>Charging</source>
        <translation>Laden</translation>
    </message>
    <message>
        <source>This is not the card that started this charge.</source>
        <translation>Dit is niet de kaart waarmee u het laden hebt gestart.</translation>
    </message>
</context>
<context>
    <name>DriverText</name>
    <message>
        <source>Card cannot be read</source>
        <translation>Kaart onleesbaar</translation>
    </message>
    <message>
        <source>Card not accepted</source>
        <translation>Kaart niet geaccepteerd</translation>
    </message>
    <message>
        <source>Card blocked</source>
        <translation>Kaart geblokkeerd</translation>
    </message>
    <message>
        <source>Please insert your card</source>
        <translation>Steek uw kaart in</translation>
    </message>
    <message>
        <source>Card removed too early</source>
        <translation>Kaart te vroeg verwijderd</translation>
    </message>
    <message>
        <source>No card</source>
        <translation>Geen kaart</translation>
    </message>
    <message>
        <source>Card reader not available</source>
        <translation>Kaartlezer niet beschikbaar</translation>
    </message>
    <message>
        <source>Wrong PIN</source>
        <translation>Onjuiste pincode</translation>
    </message>
    <message>
        <source>Last try</source>
        <translation>Laatste poging</translation>
    </message>
    <message>
        <source>PIN blocked</source>
        <translation>Pincode geblokkeerd</translation>
    </message>
    <message>
        <source>No PIN entered</source>
        <translation>Geen pincode ingevoerd</translation>
    </message>
    <message>
        <source>Payment declined</source>
        <translation>Betaling geweigerd</translation>
    </message>
    <message>
        <source>Card expired</source>
        <translation>Kaart verlopen</translation>
    </message>
    <message>
        <source>Payment not possible</source>
        <translation>Betalen niet mogelijk</translation>
    </message>
    <message>
        <source>Charging cancelled</source>
        <translation>Laden geannuleerd</translation>
    </message>
    <message>
        <source>No car connected</source>
        <translation>Geen auto aangesloten</translation>
    </message>
    <message>
        <source>No energy delivered</source>
        <translation>Geen energie geladen</translation>
    </message>
    <message>
        <source>Nothing to pay</source>
        <translation>Niets te betalen</translation>
    </message>
    <message>
        <source>Charger fault</source>
        <translation>Storing laadpunt</translation>
    </message>
    <message>
        <source>Charging stopped</source>
        <translation>Laden gestopt</translation>
    </message>
    <message>
        <source>Charger not answering</source>
        <translation>Laadpunt reageert niet</translation>
    </message>
    <message>
        <source>Terminal restarted</source>
        <translation>Terminal opnieuw gestart</translation>
    </message>
    <message>
        <source>This card cannot be read. Please try another card. Your card has not been charged.</source>
        <translation>Deze kaart kan niet worden gelezen. Probeer een andere kaart. Er is niets van uw kaart afgeschreven.</translation>
    </message>
    <message>
        <source>This card cannot be used at this charger. Please try another card. Your card has not been charged.</source>
        <translation>Deze kaart kan bij dit laadpunt niet worden gebruikt. Probeer een andere kaart. Er is niets van uw kaart afgeschreven.</translation>
    </message>
    <message>
        <source>This card is blocked. Please try another card or contact your bank. Your card has not been charged.</source>
        <translation>Deze kaart is geblokkeerd. Probeer een andere kaart of neem contact op met uw bank. Er is niets van uw kaart afgeschreven.</translation>
    </message>
    <message>
        <source>This card cannot be used contactless here. Please start again and insert it into the card reader. Your card has not been charged.</source>
        <translation>Deze kaart kan hier niet contactloos worden gebruikt. Begin opnieuw en steek de kaart in de kaartlezer. Er is niets van uw kaart afgeschreven.</translation>
    </message>
    <message>
        <source>The card was removed before the payment was complete. Please start again and leave your card in place until you are asked to take it. Your card has not been charged.</source>
        <translation>De kaart is verwijderd voordat de betaling klaar was. Begin opnieuw en laat uw kaart zitten tot u wordt gevraagd hem te verwijderen. Er is niets van uw kaart afgeschreven.</translation>
    </message>
    <message>
        <source>No card was presented in time. Please start again. Your card has not been charged.</source>
        <translation>Er is niet op tijd een kaart aangeboden. Begin opnieuw. Er is niets van uw kaart afgeschreven.</translation>
    </message>
    <message>
        <source>The card reader is not working right now. Please try again later. Your card has not been charged.</source>
        <translation>De kaartlezer werkt op dit moment niet. Probeer het later opnieuw. Er is niets van uw kaart afgeschreven.</translation>
    </message>
    <message>
        <source>Last try before your PIN is blocked.</source>
        <translation>Laatste poging voordat uw pincode wordt geblokkeerd.</translation>
    </message>
    <message>
        <source>Wrong PIN. Last try before your PIN is blocked.</source>
        <translation>Onjuiste pincode. Laatste poging voordat uw pincode wordt geblokkeerd.</translation>
    </message>
    <message>
        <source>Too many wrong PINs: your PIN is blocked. Please contact your bank. Your card has not been charged.</source>
        <translation>Te vaak een onjuiste pincode: uw pincode is geblokkeerd. Neem contact op met uw bank. Er is niets van uw kaart afgeschreven.</translation>
    </message>
    <message>
        <source>No PIN was entered in time. Please start again. Your card has not been charged.</source>
        <translation>De pincode is niet op tijd ingevoerd. Begin opnieuw. Er is niets van uw kaart afgeschreven.</translation>
    </message>
    <message>
        <source>The PIN was wrong. Please start again and enter your PIN. Your card has not been charged.</source>
        <translation>De pincode was onjuist. Begin opnieuw en voer uw pincode in. Er is niets van uw kaart afgeschreven.</translation>
    </message>
    <message>
        <source>The payment was declined. Please try another card. Your card has not been charged.</source>
        <translation>De betaling is geweigerd. Probeer een andere kaart. Er is niets van uw kaart afgeschreven.</translation>
    </message>
    <message>
        <source>Your bank declined the payment. Please try another card or contact your bank. Your card has not been charged.</source>
        <translation>Uw bank heeft de betaling geweigerd. Probeer een andere kaart of neem contact op met uw bank. Er is niets van uw kaart afgeschreven.</translation>
    </message>
    <message>
        <source>Your card declined the payment. Please try another card. Your card has not been charged.</source>
        <translation>Uw kaart heeft de betaling geweigerd. Probeer een andere kaart. Er is niets van uw kaart afgeschreven.</translation>
    </message>
    <message>
        <source>Your bank declined the payment: not enough funds. Please try another card. Your card has not been charged.</source>
        <translation>Uw bank heeft de betaling geweigerd: onvoldoende saldo. Probeer een andere kaart. Er is niets van uw kaart afgeschreven.</translation>
    </message>
    <message>
        <source>The amount is above a limit of your card. Please insert your card and use your PIN, or try another card. Your card has not been charged.</source>
        <translation>Het bedrag is hoger dan een limiet van uw kaart. Steek uw kaart in en voer uw pincode in, of probeer een andere kaart. Er is niets van uw kaart afgeschreven.</translation>
    </message>
    <message>
        <source>This card has expired. Please try another card. Your card has not been charged.</source>
        <translation>Deze kaart is verlopen. Probeer een andere kaart. Er is niets van uw kaart afgeschreven.</translation>
    </message>
    <message>
        <source>The payment service cannot be reached right now. Please try again later. Your card has not been charged.</source>
        <translation>De betaaldienst is op dit moment niet bereikbaar. Probeer het later opnieuw. Er is niets van uw kaart afgeschreven.</translation>
    </message>
    <message>
        <source>The payment service did not answer. Please try again later. Your card has not been charged.</source>
        <translation>De betaaldienst heeft niet geantwoord. Probeer het later opnieuw. Er is niets van uw kaart afgeschreven.</translation>
    </message>
    <message>
        <source>The payment could not be completed. Please try again. Your card has not been charged.</source>
        <translation>De betaling kon niet worden voltooid. Probeer het opnieuw. Er is niets van uw kaart afgeschreven.</translation>
    </message>
    <message>
        <source>Charging was cancelled. Your card has not been charged.</source>
        <translation>Het laden is geannuleerd. Er is niets van uw kaart afgeschreven.</translation>
    </message>
    <message>
        <source>No car was connected in time. Your card has not been charged. Please start again when your car is ready.</source>
        <translation>Er is niet op tijd een auto aangesloten. Er is niets van uw kaart afgeschreven. Begin opnieuw als uw auto klaar is.</translation>
    </message>
    <message>
        <source>No energy was delivered. Your card has not been charged.</source>
        <translation>Er is geen energie geladen. Er is niets van uw kaart afgeschreven.</translation>
    </message>
    <message>
        <source>The energy delivered costs nothing. Your card has not been charged.</source>
        <translation>De geladen energie is gratis. Er is niets van uw kaart afgeschreven.</translation>
    </message>
    <message>
        <source>The charger reported a fault, so charging could not start. Please use another charger or try again later. Your card has not been charged.</source>
        <translation>Het laadpunt meldt een storing, daardoor kon het laden niet starten. Gebruik een ander laadpunt of probeer het later opnieuw. Er is niets van uw kaart afgeschreven.</translation>
    </message>
    <message>
        <source>The charger reported a fault and charging stopped. You pay only for the energy delivered.</source>
        <translation>Het laadpunt meldt een storing en het laden is gestopt. U betaalt alleen voor de geladen energie.</translation>
    </message>
    <message>
        <source>The charger does not answer. Charging stops if it does not come back soon.</source>
        <translation>Het laadpunt reageert niet. Het laden stopt als het niet snel weer reageert.</translation>
    </message>
    <message>
        <source>The terminal restarted during your payment. Please start again. Your card has not been charged.</source>
        <translation>De terminal is tijdens uw betaling opnieuw opgestart. Begin opnieuw. Er is niets van uw kaart afgeschreven.</translation>
    </message>
    <message>
        <source>The terminal restarted before charging began. Please start again. Your card has not been charged.</source>
        <translation>De terminal is opnieuw opgestart voordat het laden begon. Begin opnieuw. Er is niets van uw kaart afgeschreven.</translation>
    </message>
    <message>
        <source>Your bank did not allow a larger amount to be reserved, so charging stopped. You pay only for the energy delivered.</source>
        <translation>Uw bank stond geen hoger gereserveerd bedrag toe, daarom is het laden gestopt. U betaalt alleen voor de geladen energie.</translation>
    </message>
    <message>
        <source>The amount reserved on your card is used up, so charging stopped. You pay only for the energy delivered.</source>
        <translation>Het gereserveerde bedrag op uw kaart is op, daarom is het laden gestopt. U betaalt alleen voor de geladen energie.</translation>
    </message>
    <message>
        <source>Wrong PIN. Please enter it again. Tries left: {n}.</source>
        <translation>Verkeerde pincode. Voer hem opnieuw in. Pogingen over: {n}.</translation>
    </message>
    <message>
        <source>Wrong PIN. Please enter it again.</source>
        <translation>Onjuiste pincode. Voer hem opnieuw in.</translation>
    </message>
</context>
<context>
    <name>IdlePage</name>
    <message>
        <source>Charge your car, pay by card</source>
        <translation>Laad uw auto, betaal met uw kaart</translation>
    </message>
    <message>
        <source>1  Tap Start   ·   2  Tap or insert your card   ·   3  Plug in your car   ·   4  To stop, tap the same card</source>
        <translation>1  Start   ·   2  Kaart ertegen of erin   ·   3  Auto aansluiten   ·   4  Zelfde kaart stopt</translation>
    </message>
    <message>
        <source>Start charging — pay by card</source>
        <translation>Start laden — betalen met kaart</translation>
    </message>
    <message>
        <source>No price is set for this time.</source>
        <translation>Voor dit tijdstip is geen prijs ingesteld.</translation>
    </message>
    <message>
        <source>Charging is not available.</source>
        <translation>Laden is niet mogelijk.</translation>
    </message>
    <message>
        <source>Connector {label}</source>
        <translation>Laadpunt {label}</translation>
    </message>
    <message>
        <source>Free — tap to start</source>
        <translation>Vrij — tik om te laden</translation>
    </message>
    <message>
        <source>Paying</source>
        <translation>Bezig met betalen</translation>
    </message>
    <message>
        <source>Waiting for the car</source>
        <translation>Wacht op de auto</translation>
    </message>
    <message>
        <source>Charging — tap to view</source>
        <translation>Laadt — bekijken</translation>
    </message>
    <message>
        <source>Finishing</source>
        <translation>Wordt afgerond</translation>
    </message>
    <message>
        <source>Receipt</source>
        <translation>Bon</translation>
    </message>
    <message>
        <source>In use</source>
        <translation>In gebruik</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>Accessibility mode on.</source>
        <translation>Toegankelijke modus aan.</translation>
    </message>
    <message>
        <source>This screen ends in {left}. Do you need more time?</source>
        <translation>Dit scherm sluit over {left}. Hebt u meer tijd nodig?</translation>
    </message>
    <message>
        <source>This screen ends in {left}.</source>
        <translation>Dit scherm sluit over {left}.</translation>
    </message>
    <message>
        <source>⚠ LAB MODE: payment data is not encrypted</source>
        <translation>⚠ LABMODUS: betaalgegevens zijn niet versleuteld</translation>
    </message>
    <message>
        <source>Accessibility: high contrast, large text and spoken prompts</source>
        <translation>Toegankelijkheid: hoog contrast, grote tekst en gesproken aanwijzingen</translation>
    </message>
    <message>
        <source>More time</source>
        <translation>Meer tijd</translation>
    </message>
    <message>
        <source>All connectors</source>
        <translation>Alle laadpunten</translation>
    </message>
    <message>
        <source>The card reader is busy with another driver. Please try again in a moment.</source>
        <translation>De kaartlezer wordt nu door iemand anders gebruikt. Probeer het zo opnieuw.</translation>
    </message>
    <message>
        <source>All charging points are in use right now. Please try again in a moment.</source>
        <translation>Alle laadpunten zijn nu bezet. Probeer het zo opnieuw.</translation>
    </message>
</context>
<context>
    <name>Member</name>
    <message>
        <source>{plan}: {percent} off</source>
        <translation>{plan}: {percent} korting</translation>
    </message>
    <message>
        <source>Your price: {prices}</source>
        <translation>Uw prijs: {prices}</translation>
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
        <translation>Betaling geweigerd</translation>
    </message>
    <message>
        <source>Charging cancelled</source>
        <translation>Laden geannuleerd</translation>
    </message>
    <message>
        <source>Charging not possible</source>
        <translation>Laden niet mogelijk</translation>
    </message>
</context>
<context>
    <name>OutOfServicePage</name>
    <message>
        <source>Out of service</source>
        <translation>Buiten gebruik</translation>
    </message>
    <message>
        <source>This charging point cannot take payments right now.</source>
        <translation>Op dit laadpunt kunt u nu niet betalen.</translation>
    </message>
    <message>
        <source>The terminal is being checked.</source>
        <translation>De terminal wordt gecontroleerd.</translation>
    </message>
    <message>
        <source>Questions? Call {phone}</source>
        <translation>Vragen? Bel {phone}</translation>
    </message>
    <message>
        <source>This charging point is back in service by itself as soon as the problem is fixed.</source>
        <translation>Dit laadpunt werkt vanzelf weer zodra het probleem is opgelost.</translation>
    </message>
    <message>
        <source>The terminal cannot store payments right now.</source>
        <translation>De terminal kan nu geen betalingen opslaan.</translation>
    </message>
    <message>
        <source>The terminal&apos;s storage is nearly full.</source>
        <translation>Het geheugen van de terminal is bijna vol.</translation>
    </message>
    <message>
        <source>The charger does not answer.</source>
        <translation>Het laadstation reageert niet.</translation>
    </message>
    <message>
        <source>The card reader is not available right now.</source>
        <translation>De kaartlezer is nu niet beschikbaar.</translation>
    </message>
    <message>
        <source>The payment service cannot be reached.</source>
        <translation>De betaaldienst is niet bereikbaar.</translation>
    </message>
    <message>
        <source>This charging station is being serviced.</source>
        <translation>Dit laadstation is in onderhoud.</translation>
    </message>
    <message>
        <source>This charging station has been taken out of service.</source>
        <translation>Dit laadstation is buiten gebruik gesteld.</translation>
    </message>
    <message>
        <source>A part of the terminal is being checked.</source>
        <translation>Een onderdeel van de terminal wordt gecontroleerd.</translation>
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
        <translation>Voer uw pincode in</translation>
    </message>
    <message>
        <source>Shield the keypad with your hand. Press OK when done.</source>
        <translation>Scherm het toetsenbord af met uw hand. Druk daarna op OK.</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Annuleren</translation>
    </message>
    <message>
        <source>Clear</source>
        <translation>Wissen</translation>
    </message>
    <message>
        <source>OK, send the PIN</source>
        <translation>OK, pincode bevestigen</translation>
    </message>
    <message>
        <source>PIN digits entered: {n}</source>
        <translation>Ingevoerde cijfers van de pincode: {n}</translation>
    </message>
    <message>
        <source>Card {pan}</source>
        <translation>Kaart {pan}</translation>
    </message>
</context>
<context>
    <name>PlugPage</name>
    <message>
        <source>Approved. Plug in your car.</source>
        <translation>Goedgekeurd. Sluit uw auto aan.</translation>
    </message>
    <message>
        <source>If your card is in the reader, take it now.</source>
        <translation>Zit uw kaart in de lezer? Neem hem er nu uit.</translation>
    </message>
    <message>
        <source>Charging starts by itself as soon as the car is connected. If no car is connected in time, the reservation on your card is released.</source>
        <translation>Het laden start vanzelf zodra de auto is aangesloten. Wordt er niet op tijd een auto aangesloten, dan wordt het gereserveerde bedrag op uw kaart vrijgegeven.</translation>
    </message>
    <message>
        <source>Demo: plug the car in</source>
        <translation>Demo: auto aansluiten</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Annuleren</translation>
    </message>
    <message>
        <source>{amount} is reserved on your card. Use connector {label}.</source>
        <translation>{amount} is gereserveerd op uw kaart. Gebruik laadpunt {label}.</translation>
    </message>
    <message>
        <source>Time left to plug in: {left}</source>
        <translation>Tijd om aan te sluiten: {left}</translation>
    </message>
</context>
<context>
    <name>ReceiptPage</name>
    <message>
        <source>Thank you! You can unplug your car.</source>
        <translation>Bedankt! U kunt uw auto nu loskoppelen.</translation>
    </message>
    <message>
        <source>Scan for your invoice</source>
        <translation>Scan voor uw factuur</translation>
    </message>
    <message>
        <source>Invoice</source>
        <translation>Factuur</translation>
    </message>
    <message>
        <source>Energy</source>
        <translation>Energie</translation>
    </message>
    <message>
        <source>Charging time</source>
        <translation>Laadtijd</translation>
    </message>
    <message>
        <source>Card</source>
        <translation>Kaart</translation>
    </message>
    <message>
        <source>Authorization</source>
        <translation>Autorisatie</translation>
    </message>
    <message>
        <source>Station</source>
        <translation>Station</translation>
    </message>
    <message>
        <source>Done</source>
        <translation>Klaar</translation>
    </message>
    <message>
        <source>QR code of your invoice</source>
        <translation>QR-code van uw factuur</translation>
    </message>
    <message>
        <source>incl. {vat} VAT</source>
        <translation>incl. {vat} btw</translation>
    </message>
    <message>
        <source>VAT included</source>
        <translation>incl. btw</translation>
    </message>
    <message>
        <source>This screen closes by itself in {left}</source>
        <translation>Dit scherm sluit vanzelf over {left}</translation>
    </message>
    <message>
        <source>Payment pending: your card will be charged {amount} once your bank confirms.</source>
        <translation>Betaling in behandeling: {amount} wordt van uw kaart afgeschreven zodra uw bank dit bevestigt.</translation>
    </message>
    <message>
        <source>Paid: your card has been charged {amount}.</source>
        <translation>Betaald: {amount} is van uw kaart afgeschreven.</translation>
    </message>
    <message>
        <source>Total</source>
        <translation>Totaal</translation>
    </message>
    <message>
        <source>Total paid</source>
        <translation>Totaal betaald</translation>
    </message>
</context>
</TS>
