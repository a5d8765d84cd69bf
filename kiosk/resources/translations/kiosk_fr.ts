<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="fr_FR" sourcelanguage="en">
<context>
    <name>AuthorizingPage</name>
    <message>
        <source>Contacting your bank…</source>
        <translation>Connexion à votre banque…</translation>
    </message>
    <message>
        <source>Reserving {amount} on your card. This usually takes a few seconds. If you inserted your card, please leave it in.</source>
        <translation>Réservation de {amount} sur votre carte. Cela prend généralement quelques secondes. Si vous avez inséré votre carte, laissez-la en place.</translation>
    </message>
    <message>
        <source>Waiting for your bank</source>
        <translation>En attente de votre banque</translation>
    </message>
</context>
<context>
    <name>CardPage</name>
    <message>
        <source>This amount is reserved on your card.
You pay only for the energy you charge.</source>
        <translation>Ce montant est réservé sur votre carte.
Vous ne payez que l&apos;énergie rechargée.</translation>
    </message>
    <message>
        <source>Contactless cards, phones and watches: tap and hold until you hear the beep. Chip cards: insert the card and leave it in until asked to remove it.</source>
        <translation>Cartes sans contact, téléphones et montres&#xa0;: approchez-les du lecteur jusqu&apos;au bip. Cartes à puce&#xa0;: insérez la carte et laissez-la jusqu&apos;à ce que l&apos;on vous demande de la retirer.</translation>
    </message>
    <message>
        <source>Your card is checking the PIN. Please leave it in the reader.</source>
        <translation>Votre carte vérifie le code PIN. Veuillez la laisser dans le lecteur.</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Annuler</translation>
    </message>
    <message>
        <source>Demo: tap a test card</source>
        <translation>Démo&#xa0;: touchez une carte de test</translation>
    </message>
    <message>
        <source>Checking your PIN…</source>
        <translation>Vérification du code PIN…</translation>
    </message>
    <message>
        <source>Hold your card near the reader or insert it</source>
        <translation>Approchez votre carte du lecteur ou insérez-la</translation>
    </message>
</context>
<context>
    <name>ChargingPage</name>
    <message>
        <source>Cost so far</source>
        <translation>Coût actuel</translation>
    </message>
    <message>
        <source>Energy</source>
        <translation>Énergie</translation>
    </message>
    <message>
        <source>Charging time</source>
        <translation>Durée de recharge</translation>
    </message>
    <message>
        <source>Power</source>
        <translation>Puissance</translation>
    </message>
    <message>
        <source>To stop, tap the same card again or press Stop charging</source>
        <translation>Pour arrêter, présentez la même carte ou appuyez sur « Arrêter la recharge »</translation>
    </message>
    <message>
        <source>Stop charging</source>
        <translation>Arrêter la recharge</translation>
    </message>
    <message>
        <source>Demo: tap the same card</source>
        <translation>Démo : même carte</translation>
    </message>
    <message>
        <source>Demo: another card</source>
        <translation>Démo : autre carte</translation>
    </message>
    <message>
        <source>Stopping the charger and completing your payment. Please wait.</source>
        <translation>Arrêt de la recharge et finalisation du paiement. Veuillez patienter.</translation>
    </message>
    <message>
        <source>Reserved on your card: {held} ({left} left)</source>
        <translation>Réservé sur votre carte&#xa0;: {held} (reste {left})</translation>
    </message>
    <message>
        <source>Finishing…</source>
        <translation>Finalisation…</translation>
    </message>
    <message>
        <source>Charging</source>
        <translation>Recharge</translation>
    </message>
    <message>
        <source>This is not the card that started this charge.</source>
        <translation>Ce n&apos;est pas la carte qui a lancé cette recharge.</translation>
    </message>
</context>
<context>
    <name>DriverText</name>
    <message>
        <source>Card cannot be read</source>
        <translation>Carte illisible</translation>
    </message>
    <message>
        <source>Card not accepted</source>
        <translation>Carte non acceptée</translation>
    </message>
    <message>
        <source>Card blocked</source>
        <translation>Carte bloquée</translation>
    </message>
    <message>
        <source>Please insert your card</source>
        <translation>Veuillez insérer votre carte</translation>
    </message>
    <message>
        <source>Card removed too early</source>
        <translation>Carte retirée trop tôt</translation>
    </message>
    <message>
        <source>No card</source>
        <translation>Aucune carte</translation>
    </message>
    <message>
        <source>Card reader not available</source>
        <translation>Lecteur de carte indisponible</translation>
    </message>
    <message>
        <source>Wrong PIN</source>
        <translation>Code PIN incorrect</translation>
    </message>
    <message>
        <source>Last try</source>
        <translation>Dernier essai</translation>
    </message>
    <message>
        <source>PIN blocked</source>
        <translation>Code PIN bloqué</translation>
    </message>
    <message>
        <source>No PIN entered</source>
        <translation>Aucun code PIN saisi</translation>
    </message>
    <message>
        <source>Payment declined</source>
        <translation>Paiement refusé</translation>
    </message>
    <message>
        <source>Card expired</source>
        <translation>Carte expirée</translation>
    </message>
    <message>
        <source>Payment not possible</source>
        <translation>Paiement impossible</translation>
    </message>
    <message>
        <source>Charging cancelled</source>
        <translation>Recharge annulée</translation>
    </message>
    <message>
        <source>No car connected</source>
        <translation>Aucune voiture branchée</translation>
    </message>
    <message>
        <source>No energy delivered</source>
        <translation>Aucune énergie fournie</translation>
    </message>
    <message>
        <source>Nothing to pay</source>
        <translation>Rien à payer</translation>
    </message>
    <message>
        <source>Charger fault</source>
        <translation>Panne de la borne</translation>
    </message>
    <message>
        <source>Charging stopped</source>
        <translation>Recharge arrêtée</translation>
    </message>
    <message>
        <source>Charger not answering</source>
        <translation>La borne ne répond pas</translation>
    </message>
    <message>
        <source>Terminal restarted</source>
        <translation>Terminal redémarré</translation>
    </message>
    <message>
        <source>This card cannot be read. Please try another card. Your card has not been charged.</source>
        <translation>Cette carte ne peut pas être lue. Veuillez essayer une autre carte. Votre carte n&apos;a pas été débitée.</translation>
    </message>
    <message>
        <source>This card cannot be used at this charger. Please try another card. Your card has not been charged.</source>
        <translation>Cette carte n&apos;est pas acceptée sur cette borne. Veuillez essayer une autre carte. Votre carte n&apos;a pas été débitée.</translation>
    </message>
    <message>
        <source>This card is blocked. Please try another card or contact your bank. Your card has not been charged.</source>
        <translation>Cette carte est bloquée. Veuillez essayer une autre carte ou contacter votre banque. Votre carte n&apos;a pas été débitée.</translation>
    </message>
    <message>
        <source>This card cannot be used contactless here. Please start again and insert it into the card reader. Your card has not been charged.</source>
        <translation>Cette carte ne peut pas être utilisée sans contact ici. Veuillez recommencer et insérer la carte dans le lecteur. Votre carte n&apos;a pas été débitée.</translation>
    </message>
    <message>
        <source>The card was removed before the payment was complete. Please start again and leave your card in place until you are asked to take it. Your card has not been charged.</source>
        <translation>La carte a été retirée avant la fin du paiement. Veuillez recommencer et laisser votre carte en place jusqu&apos;à ce que l&apos;on vous demande de la retirer. Votre carte n&apos;a pas été débitée.</translation>
    </message>
    <message>
        <source>No card was presented in time. Please start again. Your card has not been charged.</source>
        <translation>Aucune carte n&apos;a été présentée à temps. Veuillez recommencer. Votre carte n&apos;a pas été débitée.</translation>
    </message>
    <message>
        <source>The card reader is not working right now. Please try again later. Your card has not been charged.</source>
        <translation>Le lecteur de carte ne fonctionne pas pour le moment. Veuillez réessayer plus tard. Votre carte n&apos;a pas été débitée.</translation>
    </message>
    <message>
        <source>Last try before your PIN is blocked.</source>
        <translation>Dernier essai avant le blocage de votre code PIN.</translation>
    </message>
    <message>
        <source>Wrong PIN. Last try before your PIN is blocked.</source>
        <translation>Code PIN incorrect. Dernier essai avant le blocage de votre code PIN.</translation>
    </message>
    <message>
        <source>Too many wrong PINs: your PIN is blocked. Please contact your bank. Your card has not been charged.</source>
        <translation>Trop de codes PIN incorrects&#xa0;: votre code PIN est bloqué. Veuillez contacter votre banque. Votre carte n&apos;a pas été débitée.</translation>
    </message>
    <message>
        <source>No PIN was entered in time. Please start again. Your card has not been charged.</source>
        <translation>Le code PIN n&apos;a pas été saisi à temps. Veuillez recommencer. Votre carte n&apos;a pas été débitée.</translation>
    </message>
    <message>
        <source>The PIN was wrong. Please start again and enter your PIN. Your card has not been charged.</source>
        <translation>Le code PIN était incorrect. Veuillez recommencer et saisir votre code PIN. Votre carte n&apos;a pas été débitée.</translation>
    </message>
    <message>
        <source>The payment was declined. Please try another card. Your card has not been charged.</source>
        <translation>Le paiement a été refusé. Veuillez essayer une autre carte. Votre carte n&apos;a pas été débitée.</translation>
    </message>
    <message>
        <source>Your bank declined the payment. Please try another card or contact your bank. Your card has not been charged.</source>
        <translation>Votre banque a refusé le paiement. Veuillez essayer une autre carte ou contacter votre banque. Votre carte n&apos;a pas été débitée.</translation>
    </message>
    <message>
        <source>Your card declined the payment. Please try another card. Your card has not been charged.</source>
        <translation>Votre carte a refusé le paiement. Veuillez essayer une autre carte. Votre carte n&apos;a pas été débitée.</translation>
    </message>
    <message>
        <source>Your bank declined the payment: not enough funds. Please try another card. Your card has not been charged.</source>
        <translation>Votre banque a refusé le paiement&#xa0;: solde insuffisant. Veuillez essayer une autre carte. Votre carte n&apos;a pas été débitée.</translation>
    </message>
    <message>
        <source>The amount is above a limit of your card. Please insert your card and use your PIN, or try another card. Your card has not been charged.</source>
        <translation>Le montant dépasse une limite de votre carte. Veuillez insérer votre carte et saisir votre code PIN, ou essayer une autre carte. Votre carte n&apos;a pas été débitée.</translation>
    </message>
    <message>
        <source>This card has expired. Please try another card. Your card has not been charged.</source>
        <translation>Cette carte a expiré. Veuillez essayer une autre carte. Votre carte n&apos;a pas été débitée.</translation>
    </message>
    <message>
        <source>The payment service cannot be reached right now. Please try again later. Your card has not been charged.</source>
        <translation>Le service de paiement est injoignable pour le moment. Veuillez réessayer plus tard. Votre carte n&apos;a pas été débitée.</translation>
    </message>
    <message>
        <source>The payment service did not answer. Please try again later. Your card has not been charged.</source>
        <translation>Le service de paiement n&apos;a pas répondu. Veuillez réessayer plus tard. Votre carte n&apos;a pas été débitée.</translation>
    </message>
    <message>
        <source>The payment could not be completed. Please try again. Your card has not been charged.</source>
        <translation>Le paiement n&apos;a pas pu aboutir. Veuillez réessayer. Votre carte n&apos;a pas été débitée.</translation>
    </message>
    <message>
        <source>Charging was cancelled. Your card has not been charged.</source>
        <translation>La recharge a été annulée. Votre carte n&apos;a pas été débitée.</translation>
    </message>
    <message>
        <source>No car was connected in time. Your card has not been charged. Please start again when your car is ready.</source>
        <translation>Aucune voiture n&apos;a été branchée à temps. Votre carte n&apos;a pas été débitée. Veuillez recommencer quand votre voiture est prête.</translation>
    </message>
    <message>
        <source>No energy was delivered. Your card has not been charged.</source>
        <translation>Aucune énergie n&apos;a été fournie. Votre carte n&apos;a pas été débitée.</translation>
    </message>
    <message>
        <source>The energy delivered costs nothing. Your card has not been charged.</source>
        <translation>L&apos;énergie fournie est gratuite. Votre carte n&apos;a pas été débitée.</translation>
    </message>
    <message>
        <source>The charger reported a fault, so charging could not start. Please use another charger or try again later. Your card has not been charged.</source>
        <translation>La borne a signalé une panne, la recharge n&apos;a donc pas pu démarrer. Veuillez utiliser une autre borne ou réessayer plus tard. Votre carte n&apos;a pas été débitée.</translation>
    </message>
    <message>
        <source>The charger reported a fault and charging stopped. You pay only for the energy delivered.</source>
        <translation>La borne a signalé une panne et la recharge s&apos;est arrêtée. Vous ne payez que l&apos;énergie rechargée.</translation>
    </message>
    <message>
        <source>The charger does not answer. Charging stops if it does not come back soon.</source>
        <translation>La borne ne répond pas. La recharge s&apos;arrêtera si elle ne répond pas rapidement.</translation>
    </message>
    <message>
        <source>The terminal restarted during your payment. Please start again. Your card has not been charged.</source>
        <translation>Le terminal a redémarré pendant votre paiement. Veuillez recommencer. Votre carte n&apos;a pas été débitée.</translation>
    </message>
    <message>
        <source>The terminal restarted before charging began. Please start again. Your card has not been charged.</source>
        <translation>Le terminal a redémarré avant le début de la recharge. Veuillez recommencer. Votre carte n&apos;a pas été débitée.</translation>
    </message>
    <message>
        <source>Your bank did not allow a larger amount to be reserved, so charging stopped. You pay only for the energy delivered.</source>
        <translation>Votre banque n&apos;a pas autorisé la réservation d&apos;un montant plus élevé, la recharge s&apos;est donc arrêtée. Vous ne payez que l&apos;énergie rechargée.</translation>
    </message>
    <message>
        <source>The amount reserved on your card is used up, so charging stopped. You pay only for the energy delivered.</source>
        <translation>Le montant réservé sur votre carte est épuisé, la recharge s&apos;est donc arrêtée. Vous ne payez que l&apos;énergie rechargée.</translation>
    </message>
    <message>
        <source>Wrong PIN. Please enter it again. Tries left: {n}.</source>
        <translation>Code PIN erroné. Veuillez le saisir à nouveau. Essais restants : {n}.</translation>
    </message>
    <message>
        <source>Wrong PIN. Please enter it again.</source>
        <translation>Code PIN incorrect. Veuillez le saisir à nouveau.</translation>
    </message>
</context>
<context>
    <name>IdlePage</name>
    <message>
        <source>Charge your car, pay by card</source>
        <translation>Rechargez votre voiture, payez par carte</translation>
    </message>
    <message>
        <source>1  Tap Start   ·   2  Tap or insert your card   ·   3  Plug in your car   ·   4  To stop, tap the same card</source>
        <translation>1  Démarrer   ·   2  Présentez ou insérez la carte   ·   3  Branchez   ·   4  Même carte pour arrêter</translation>
    </message>
    <message>
        <source>Start charging — pay by card</source>
        <translation>Démarrer la recharge — payer par carte</translation>
    </message>
    <message>
        <source>No price is set for this time.</source>
        <translation>Aucun tarif n&apos;est défini pour cette heure.</translation>
    </message>
    <message>
        <source>Charging is not available.</source>
        <translation>La recharge n&apos;est pas disponible.</translation>
    </message>
    <message>
        <source>Connector {label}</source>
        <translation>Point de charge {label}</translation>
    </message>
    <message>
        <source>Free — tap to start</source>
        <translation>Libre — démarrer ici</translation>
    </message>
    <message>
        <source>Paying</source>
        <translation>Paiement en cours</translation>
    </message>
    <message>
        <source>Waiting for the car</source>
        <translation>Attente de la voiture</translation>
    </message>
    <message>
        <source>Charging — tap to view</source>
        <translation>En recharge — voir</translation>
    </message>
    <message>
        <source>Finishing</source>
        <translation>Finalisation</translation>
    </message>
    <message>
        <source>Receipt</source>
        <translation>Reçu</translation>
    </message>
    <message>
        <source>In use</source>
        <translation>Occupé</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>Accessibility mode on.</source>
        <translation>Mode accessibilité activé.</translation>
    </message>
    <message>
        <source>This screen ends in {left}. Do you need more time?</source>
        <translation>Cet écran se ferme dans {left}. Besoin de plus de temps ?</translation>
    </message>
    <message>
        <source>This screen ends in {left}.</source>
        <translation>Cet écran se ferme dans {left}.</translation>
    </message>
    <message>
        <source>⚠ LAB MODE: payment data is not encrypted</source>
        <translation>⚠ MODE LABO&#xa0;: les données de paiement ne sont pas chiffrées</translation>
    </message>
    <message>
        <source>Accessibility: high contrast, large text and spoken prompts</source>
        <translation>Accessibilité : contraste élevé, grand texte et instructions vocales</translation>
    </message>
    <message>
        <source>More time</source>
        <translation>Plus de temps</translation>
    </message>
    <message>
        <source>All connectors</source>
        <translation>Points de charge</translation>
    </message>
    <message>
        <source>The card reader is busy with another driver. Please try again in a moment.</source>
        <translation>Le lecteur de carte est utilisé par quelqu&apos;un d&apos;autre. Veuillez réessayer dans un instant.</translation>
    </message>
    <message>
        <source>All charging points are in use right now. Please try again in a moment.</source>
        <translation>Tous les points de charge sont occupés. Veuillez réessayer dans un instant.</translation>
    </message>
</context>
<context>
    <name>Member</name>
    <message>
        <source>{plan}: {percent} off</source>
        <translation>{plan} : {percent} de remise</translation>
    </message>
    <message>
        <source>Your price: {prices}</source>
        <translation>Votre prix : {prices}</translation>
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
        <translation>Paiement refusé</translation>
    </message>
    <message>
        <source>Charging cancelled</source>
        <translation>Recharge annulée</translation>
    </message>
    <message>
        <source>Charging not possible</source>
        <translation>Recharge impossible</translation>
    </message>
</context>
<context>
    <name>OutOfServicePage</name>
    <message>
        <source>Out of service</source>
        <translation>Hors service</translation>
    </message>
    <message>
        <source>This charging point cannot take payments right now.</source>
        <translation>Cette borne ne peut pas accepter de paiement pour le moment.</translation>
    </message>
    <message>
        <source>The terminal is being checked.</source>
        <translation>Le terminal est en cours de vérification.</translation>
    </message>
    <message>
        <source>Questions? Call {phone}</source>
        <translation>Des questions&#xa0;? Appelez le {phone}</translation>
    </message>
    <message>
        <source>This charging point is back in service by itself as soon as the problem is fixed.</source>
        <translation>Cette borne se remet en service d&apos;elle-même dès que le problème est résolu.</translation>
    </message>
    <message>
        <source>The terminal cannot store payments right now.</source>
        <translation>Le terminal ne peut pas enregistrer de paiements pour le moment.</translation>
    </message>
    <message>
        <source>The terminal&apos;s storage is nearly full.</source>
        <translation>La mémoire du terminal est presque pleine.</translation>
    </message>
    <message>
        <source>The charger does not answer.</source>
        <translation>La borne ne répond pas.</translation>
    </message>
    <message>
        <source>The card reader is not available right now.</source>
        <translation>Le lecteur de carte n&apos;est pas disponible pour le moment.</translation>
    </message>
    <message>
        <source>The payment service cannot be reached.</source>
        <translation>Le service de paiement est injoignable.</translation>
    </message>
    <message>
        <source>This charging station is being serviced.</source>
        <translation>Cette borne est en cours d&apos;entretien.</translation>
    </message>
    <message>
        <source>This charging station has been taken out of service.</source>
        <translation>Cette borne a été mise hors service.</translation>
    </message>
    <message>
        <source>A part of the terminal is being checked.</source>
        <translation>Une partie du terminal est en cours de vérification.</translation>
    </message>
    <message>
        <source>Station {id}</source>
        <translation>Borne {id}</translation>
    </message>
</context>
<context>
    <name>PinPage</name>
    <message>
        <source>Enter your PIN</source>
        <translation>Saisissez votre code PIN</translation>
    </message>
    <message>
        <source>Shield the keypad with your hand. Press OK when done.</source>
        <translation>Cachez le clavier avec votre main. Appuyez ensuite sur OK.</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Annuler</translation>
    </message>
    <message>
        <source>Clear</source>
        <translation>Effacer</translation>
    </message>
    <message>
        <source>OK, send the PIN</source>
        <translation>OK, valider le code PIN</translation>
    </message>
    <message>
        <source>PIN digits entered: {n}</source>
        <translation>Chiffres du code PIN saisis : {n}</translation>
    </message>
    <message>
        <source>Card {pan}</source>
        <translation>Carte {pan}</translation>
    </message>
</context>
<context>
    <name>PlugPage</name>
    <message>
        <source>Approved. Plug in your car.</source>
        <translation>Paiement accepté. Branchez votre voiture.</translation>
    </message>
    <message>
        <source>If your card is in the reader, take it now.</source>
        <translation>Si votre carte est dans le lecteur, retirez-la maintenant.</translation>
    </message>
    <message>
        <source>Charging starts by itself as soon as the car is connected. If no car is connected in time, the reservation on your card is released.</source>
        <translation>La recharge démarre automatiquement dès que la voiture est branchée. Si aucune voiture n&apos;est branchée à temps, le montant réservé sur votre carte est libéré.</translation>
    </message>
    <message>
        <source>Demo: plug the car in</source>
        <translation>Démo&#xa0;: brancher la voiture</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Annuler</translation>
    </message>
    <message>
        <source>{amount} is reserved on your card. Use connector {label}.</source>
        <translation>{amount} sont réservés sur votre carte. Utilisez le point de charge {label}.</translation>
    </message>
    <message>
        <source>Time left to plug in: {left}</source>
        <translation>Temps restant pour brancher&#xa0;: {left}</translation>
    </message>
</context>
<context>
    <name>ReceiptPage</name>
    <message>
        <source>Thank you! You can unplug your car.</source>
        <translation>Merci&#xa0;! Vous pouvez débrancher votre voiture.</translation>
    </message>
    <message>
        <source>Scan for your invoice</source>
        <translation>Scannez pour la facture</translation>
    </message>
    <message>
        <source>Invoice</source>
        <translation>Facture</translation>
    </message>
    <message>
        <source>Energy</source>
        <translation>Énergie</translation>
    </message>
    <message>
        <source>Charging time</source>
        <translation>Durée de recharge</translation>
    </message>
    <message>
        <source>Card</source>
        <translation>Carte</translation>
    </message>
    <message>
        <source>Authorization</source>
        <translation>Autorisation</translation>
    </message>
    <message>
        <source>Station</source>
        <translation>Borne</translation>
    </message>
    <message>
        <source>Done</source>
        <translation>Terminé</translation>
    </message>
    <message>
        <source>QR code of your invoice</source>
        <translation>Code QR de votre facture</translation>
    </message>
    <message>
        <source>incl. {vat} VAT</source>
        <translation>dont TVA {vat}</translation>
    </message>
    <message>
        <source>VAT included</source>
        <translation>TVA incluse</translation>
    </message>
    <message>
        <source>This screen closes by itself in {left}</source>
        <translation>Cet écran se ferme automatiquement dans {left}</translation>
    </message>
    <message>
        <source>Payment pending: your card will be charged {amount} once your bank confirms.</source>
        <translation>Paiement en attente&#xa0;: {amount} seront débités de votre carte dès que votre banque aura confirmé.</translation>
    </message>
    <message>
        <source>Paid: your card has been charged {amount}.</source>
        <translation>Payé&#xa0;: {amount} ont été débités de votre carte.</translation>
    </message>
    <message>
        <source>Total</source>
        <translation>Total</translation>
    </message>
    <message>
        <source>Total paid</source>
        <translation>Total payé</translation>
    </message>
</context>
</TS>
